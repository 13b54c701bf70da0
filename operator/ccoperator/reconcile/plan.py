"""Pure decisions: (spec, status, remote client, Secret) -> a plan. No I/O here.

The controller observes the world, calls `decide`, executes the plan in a fixed order
(record intent -> create -> update -> issue secret -> write Secret -> revoke -> status) and
calls `decide` again on the next trigger. Because every path goes through this one function,
create, update, resume after a crash and periodic resync are the same code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from ..api.clients import (
    ClientSpec,
    ClientStatus,
    CurrentSecret,
    ObservedClient,
    RetiringSecret,
)
from ..api.conditions import Reason
from ..api.marks import Mark, namespace_and_name
from .model import Blocked, Context, IssueReason, Observed, Plan, RemoteClient
from .secret_fields import current_from_secret, secret_credential_intact, secret_fields_match


def needs_remote(spec: ClientSpec, status: ClientStatus) -> bool:
    """Whether the remote client must be read before deciding.

    A first create with the id derived from the owner key needs no read: only this
    declaration derives it (a 409 then means it exists already: a lost answer, or a rebuilt
    cluster's client to take back). A caller-chosen id is read first so that "taken by
    someone else" is told apart from "ours" before any POST (409 is then only a race).
    """
    return status.client_id is not None or spec.client_id is not None


def desired_remote(o: Observed, client_id: str, ctx: Context,
                   remote: RemoteClient | None = None) -> RemoteClient:
    return RemoteClient(
        client_id=client_id,
        name=o.spec.display_name(o.name),
        role_ids=frozenset(o.spec.role_ids),
        enabled=o.spec.enabled,
        access_token_lifetime=o.spec.access_token_lifetime,
        mark=Mark(o.owner_key) if ctx.tagged else None,
        other_tags=remote.other_tags if remote is not None else frozenset(),
    )


def decide(o: Observed, ctx: Context) -> Plan:
    spec, status = o.spec, o.status
    client_id = status.client_id or spec.desired_client_id(o.owner_key)
    secret_name = spec.secret_name(o.name)
    plan = Plan(client_id=client_id, secret_name=secret_name)

    if o.secret is not None and not o.secret.owned:
        plan.blocked = Blocked(
            Reason.SECRET_CONFLICT,
            f"Secret {secret_name!r} exists and is not owned by this resource; the operator "
            "never overwrites it. Delete or rename that Secret, or set spec.secret.name "
            "to a free name.",
        )
        return plan

    # A default id recorded before owner keys (derived from the uid) is kept: only a
    # caller-chosen id can differ from the record.
    if status.client_id is not None and spec.client_id not in (None, status.client_id):
        plan.blocked = Blocked(
            Reason.CLIENT_ID_CHANGED,
            f"spec.clientId differs from the client this resource manages "
            f"({status.client_id!r}); client ids are immutable. Restore spec.clientId.",
        )
        return plan

    if spec.observe_only:
        return _decide_observe(o, ctx, plan)
    if status.client_id is None:
        if (spec.client_id is None and o.secret is not None
                and secret_credential_intact(o.secret, client_id, spec.secret.keys.client_secret)):
            # Our Secret holds a credential of our derived client: a create whose status
            # write was lost (no intent is recorded for derived ids). The Secret is the truth.
            return _decide_managed(o, ctx, plan)
        return _decide_first(o, ctx, plan)
    return _decide_managed(o, ctx, plan)


def _decide_first(o: Observed, ctx: Context, plan: Plan) -> Plan:
    """No client recorded yet: create one, take back our own, adopt one, or refuse."""
    if not (o.remote_observed and o.remote is not None):
        # The id is recorded before the POST only when the caller chose it (a crash then
        # finds the record). A derived id needs no record: only this declaration derives
        # it, and a 409 after a lost answer is resolved by reading the client.
        plan.record_intent = o.spec.client_id is not None
        plan.create = True
        plan.write_secret = True
        return _finish(o, ctx, plan, None)
    mark = o.mark
    if mark is not None and o.ours(mark):
        if o.mark_issuer == o.uid:
            # This resource's own create, whose answer was lost (a crash, a dropped answer):
            # its secrets are ones nobody holds. Issue one, revoke the rest at once.
            plan.revoke_unknown = True
            return _take(o, ctx, plan, IssueReason.RESUMED)
        # Our own client, without a record: a rebuilt cluster, a restore from backup, an
        # Orphan deletion declared again. Take it back, whatever adopt says.
        plan.reclaim = True
        return _take(o, ctx, plan, IssueReason.RECLAIMED)
    if mark is not None and not _may_hand_over(o, mark):
        # Marked for a declaration of another namespace: never this one's to take, adopt or
        # not, whether that declaration is alive or gone (its namespace is the boundary).
        plan.blocked = Blocked(
            Reason.CLIENT_ID_TAKEN,
            _marked_elsewhere(plan.client_id) + " Choose another spec.clientId."
            + (" A handover (spec.adopt: true) is possible only from the same namespace."
               if o.spec.adopt else ""),
        )
        return plan
    if not o.spec.adopt:
        plan.blocked = Blocked(
            Reason.CLIENT_ID_TAKEN,
            _marked_elsewhere(plan.client_id) + " Choose another spec.clientId, or hand it "
            "over: spec.adopt: true, where the tenant object allows adoption."
            if mark is not None else
            f"A client with id {plan.client_id!r} already exists in tenant {o.tenant_id!r}. "
            "Set spec.adopt: true to take it over, or choose another spec.clientId.",
        )
        return plan
    # adopt: true, which the tenant object allows (reconcile/policy.py refused it otherwise):
    # an unmarked client is adopted, a marked one handed over (our mark replaces the other).
    plan.adopt = True
    plan.record_intent = True
    return _take(o, ctx, plan, IssueReason.ADOPTED)


def _decide_observe(o: Observed, ctx: Context, plan: Plan) -> Plan:
    """managementPolicy: Observe: read, compare, report; never a write."""
    if o.remote_observed and o.remote is None:
        plan.blocked = Blocked(
            Reason.CLIENT_NOT_FOUND,
            f"No client {plan.client_id!r} exists in tenant {o.tenant_id!r}; nothing to "
            "observe. Fix spec.clientId, or create the client.")
        return plan
    if o.mark_known and o.mark is not None and not o.ours(o.mark):
        plan.blocked = Blocked(
            Reason.CLIENT_ID_TAKEN,
            _marked_elsewhere(plan.client_id) + " Choose another spec.clientId.")
        return plan
    remote = o.remote
    if remote is None:  # not read this pass (it is, whenever it exists): report what we had
        plan.observe = o.status.observed
        plan.drift = o.status.drift or ()
        return plan
    secrets = (o.remote_secrets if o.remote_secrets is not None
               else o.status.observed.secrets if o.status.observed is not None else ())
    plan.observe = ObservedClient(name=remote.name, enabled=remote.enabled,
                                  role_ids=tuple(sorted(remote.role_ids)), secrets=secrets)
    plan.drift = drift(o, remote, ctx)
    plan.requeue_after = ctx.resync
    return plan


def drift(o: Observed, remote: RemoteClient, ctx: Context) -> tuple[str, ...]:
    """One line per field where the spec differs from the remote client (marks aside)."""
    wanted = replace(desired_remote(o, remote.client_id, ctx), mark=None)
    return tuple(f"{field}: spec {want} remote {have}"
                 for field, have, want in remote.differences(wanted))


def _marked_elsewhere(client_id: str) -> str:
    return (f"Client {client_id!r} is managed by another ClientCredentialClient (its mark "
            "says so).")


def _may_hand_over(o: Observed, mark: Mark) -> bool:
    """A client marked for another declaration may be handed over (with adopt: true, where
    the tenant allows adoption) only to one of the same namespace: the same manifest in
    another cluster (blue to green), or a renamed resource."""
    where = namespace_and_name(mark.owner)
    return where is not None and where[0] == o.namespace


def _take(o: Observed, ctx: Context, plan: Plan, why: IssueReason) -> Plan:
    """Make an existing client ours: the spec's fields and our mark, a new secret in the
    Secret (it carries our mark on the unversioned form)."""
    assert o.remote is not None
    desired = desired_remote(o, plan.client_id, ctx, o.remote)
    if not o.remote.satisfies(desired):
        plan.update = desired
    plan.issue_secret = why
    plan.write_secret = True
    return _finish(o, ctx, plan, None)


def _decide_managed(o: Observed, ctx: Context, plan: Plan) -> Plan:
    status = o.status
    if o.mark_known and o.mark is not None and not o.ours(o.mark):
        # Handed over to another declaration (another cluster, namespace or name): never
        # fight. Nothing is written or revoked; the Secret stays as it is.
        plan.blocked = Blocked(
            Reason.OWNED_ELSEWHERE,
            f"Client {plan.client_id!r} is now marked as managed by another "
            "ClientCredentialClient (handed over); this resource writes nothing to it any "
            "more. Delete this resource (its remote client is kept), or hand the client back.",
        )
        return plan
    if status.secret_name and status.secret_name != plan.secret_name:
        plan.delete_old_secret = status.secret_name

    if o.remote_observed and o.remote is None:
        # Gone remotely. If we ever held a credential for it, it was deleted out of band;
        # otherwise our earlier create never reached the service. Either way: create the
        # same id again; the client's secrets went with it, so nothing is left to revoke.
        plan.create = True
        plan.recreate = status.current_secret is not None or (
            o.secret is not None and o.secret.owned
        )
        plan.write_secret = True
        return _finish(o, ctx, plan, None)

    if o.remote is not None or o.remote_assumed:
        desired = desired_remote(o, plan.client_id, ctx, o.remote)
        if o.remote is None or not o.remote.satisfies(desired):
            plan.update = desired
    return _decide_credential(o, ctx, plan)


def _decide_credential(o: Observed, ctx: Context, plan: Plan) -> Plan:
    """A managed client that exists: is the credential we handed out still in the Secret,
    and is a new one due?"""
    status = o.status
    key = o.spec.secret.keys.client_secret
    current = status.current_secret
    intact = o.secret is not None and secret_credential_intact(o.secret, plan.client_id, key)
    if not intact or plan.delete_old_secret:
        # The credential we handed out is lost (never stored, Secret deleted, edited, or
        # renamed): issue a new one and revoke the lost one, so nothing valid is unaccounted.
        plan.issue_secret = IssueReason.MISSING if o.secret is None else IssueReason.REPLACED
        plan.write_secret = True
        if current is not None:
            plan.revoke_now = (current.id,)
        plan.revoke_unknown = not status.adopted
        return _finish(o, ctx, plan, None)

    assert o.secret is not None
    from_secret = current_from_secret(o.secret)
    if current is None or (from_secret is not None and from_secret.id != current.id):
        # A pass was interrupted between the Secret write and the status write (crash, or a
        # failure while revoking): the Secret is the truth. What that pass meant to finish is
        # finished now: the previous current secret gets its grace period, and on a client we
        # created, secrets we track nowhere (from answers that were lost) are revoked.
        plan.recover_current = from_secret
        plan.retire_previous = current
        plan.revoke_unknown = not status.adopted
        current = from_secret

    if current is not None and o.rotate_request and o.rotate_request != status.rotation_request:
        plan.issue_secret = IssueReason.REQUESTED
        plan.retire_current = True
    elif current is not None and _rotation_due(o, ctx, current):
        plan.issue_secret = IssueReason.EXPIRING
        plan.retire_current = True
    if plan.issue_secret or not secret_fields_match(o.secret, o, ctx, plan.client_id):
        plan.write_secret = True
    # The unversioned form marks secrets, not clients: a client marked before owner keys (or
    # under an older name of this cluster) gets our mark on its current secret, unless a new
    # secret (which carries it) is issued anyway.
    plan.remark = (not ctx.tagged and status.owner_key != o.owner_key
                   and plan.issue_secret is None and current is not None)
    return _finish(o, ctx, plan, current)


def _rotation_due(o: Observed, ctx: Context, current: CurrentSecret) -> bool:
    due = rotation_time(o, ctx, current)
    return due is not None and o.now >= due


def rotation_time(o: Observed, ctx: Context, current: CurrentSecret) -> datetime | None:
    if current.expires_at is None:
        return None
    lifetime = o.spec.lifetime(ctx.default_lifetime)
    before = o.spec.rotate_before(lifetime)
    if before is None:
        # expiresAfter 0s now, but the current secret still expires: rotate at a third left.
        issued = current.issued_at or current.expires_at
        before = (current.expires_at - issued) / 3
    return current.expires_at - before


def _finish(o: Observed, ctx: Context, plan: Plan, current: CurrentSecret | None) -> Plan:
    """Revocations that fell due, and when to look again."""
    due = tuple(r.id for r in o.status.retiring_secrets if r.revoke_after <= o.now)
    if due and not plan.create:
        plan.revoke_now = tuple(dict.fromkeys((*plan.revoke_now, *due)))
    wake = [o.now + ctx.resync]
    wake.extend(r.revoke_after for r in o.status.retiring_secrets if r.revoke_after > o.now)
    if current is not None and not plan.issue_secret:
        when = rotation_time(o, ctx, current)
        if when is not None:
            wake.append(max(when, o.now))
    plan.requeue_after = max(min(wake) - o.now, timedelta(seconds=1))
    return plan


def new_current(secret_id: int, expires_at: datetime | None, now: datetime) -> CurrentSecret:
    return CurrentSecret(id=secret_id, expires_at=expires_at, issued_at=now)


def retire(current: CurrentSecret | None, now: datetime, grace: timedelta) -> RetiringSecret | None:
    if current is None:
        return None
    return RetiringSecret(id=current.id, revoke_after=now + grace)
