"""Pure decisions: (spec, status, remote client, Secret) -> a plan. No I/O here.

The controller observes the world, calls `decide`, executes the plan in a fixed order
(record intent -> create -> update -> issue secret -> write Secret -> revoke -> status) and
calls `decide` again on the next trigger. Because every path goes through this one function,
create, update, resume after a crash and periodic resync are the same code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import SecretStr

from .conditions import Reason
from .resource import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    OWNER_UID_LABEL,
    SECRET_CLIENT_ID_ANNOTATION,
    SECRET_EXPIRES_ANNOTATION,
    SECRET_FINGERPRINT_ANNOTATION,
    SECRET_ID_ANNOTATION,
    ClientSpec,
    ClientStatus,
    CurrentSecret,
    RetiringSecret,
    owner_tag,
)


def fingerprint(value: SecretStr) -> str:
    """A short one-way digest of a secret value, to notice edits without storing the value."""
    digest = hashlib.sha256(b"ccoperator-fingerprint:" + value.get_secret_value().encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class RemoteClient:
    """The fields of the remote client that the spec controls, and (v1) its tags."""

    client_id: str
    name: str
    role_ids: frozenset[str]
    enabled: bool
    # v1 only; None: not shown (the unversioned form) or, desired, "leave as it is".
    access_token_lifetime: int | None = None
    # The resource its owner tag names (v1); desired: ours, or None where there are no tags.
    owner: str | None = None
    other_tags: frozenset[str] = frozenset()  # tags that are not ours: kept on update

    def wire_tags(self) -> list[str] | None:
        """The tags to send for a desired client: ours plus the ones we found (None: none)."""
        if self.owner is None:
            return None
        return sorted({*self.other_tags, owner_tag(self.owner)})

    def satisfies(self, desired: RemoteClient) -> bool:
        """Whether this remote client is what `desired` asks for (fields it leaves as they
        are, None, are not compared)."""
        return (
            (self.name, self.role_ids, self.enabled)
            == (desired.name, desired.role_ids, desired.enabled)
            and desired.access_token_lifetime in (None, self.access_token_lifetime)
            and desired.owner in (None, self.owner)
        )


@dataclass(frozen=True)
class SecretObject:
    """A Kubernetes Secret as observed. `data` holds decoded values; the secret one is SecretStr."""

    name: str
    owned: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    data: dict[str, str]
    secret_value: SecretStr | None
    resource_version: str | None = None


@dataclass(frozen=True)
class Observed:
    name: str
    namespace: str
    uid: str
    generation: int
    spec: ClientSpec
    status: ClientStatus
    tenant_id: str  # resolved from spec.tenantRef
    rotate_request: str | None
    # remote_observed False means "not looked up" (nothing to compare); remote None means 404.
    remote_observed: bool
    remote: RemoteClient | None
    secret: SecretObject | None
    now: datetime
    # A spec change decided without reading the remote client: `remote` is the copy we last
    # read or wrote (or None); the client is PUT as the spec says unless that copy satisfies
    # it already. Never set for a client we have not recorded.
    remote_assumed: bool = False


@dataclass(frozen=True)
class Context:
    """Inputs to decisions from outside the resource: settings, the tenant object, discovery.

    `default_lifetime` is already capped by the tenant's maxSecretLifetime (policy.py).
    """

    identity_url: str
    token_url: str
    default_lifetime: timedelta | None
    grace_period: timedelta
    resync: timedelta
    tagged: bool = False  # the tenant's API form has tags (v1): mark our clients with one


class IssueReason(StrEnum):
    """Why a new secret is issued; decides the event and whether the old one is retired."""

    ADOPTED = "adopted"
    MISSING = "missing"  # no Secret holds our credential
    REPLACED = "replaced"  # the Secret was edited or renamed: its credential is lost to us
    REQUESTED = "requested"  # rotation requested through the rotate annotation
    EXPIRING = "expiring"  # rotation because the current secret nears expiry


@dataclass(frozen=True)
class Blocked:
    reason: Reason
    message: str


@dataclass
class Plan:
    client_id: str
    secret_name: str
    blocked: Blocked | None = None
    record_intent: bool = False
    adopt: bool = False
    create: bool = False
    recreate: bool = False
    update: RemoteClient | None = None
    issue_secret: IssueReason | None = None
    write_secret: bool = False
    retire_current: bool = False
    revoke_now: tuple[int, ...] = ()
    revoke_unknown: bool = False  # after issuing: delete every remote secret we do not track
    delete_old_secret: str | None = None
    recover_current: CurrentSecret | None = None
    retire_previous: CurrentSecret | None = None
    requeue_after: timedelta | None = None

    @property
    def touches_identity(self) -> bool:
        return bool(self.create or self.update or self.issue_secret or self.revoke_now
                    or self.revoke_unknown)


def needs_remote(spec: ClientSpec, status: ClientStatus) -> bool:
    """Whether the remote client must be read before deciding.

    A first create with an id derived from our uid needs no read: nobody else can hold that
    id. A caller-chosen id is read first so that "taken by someone else" is told apart from
    "ours" before any POST (see decide: 409 is then only a race).
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
        owner=o.uid if ctx.tagged else None,
        other_tags=remote.other_tags if remote is not None else frozenset(),
    )


def desired_secret_fields(
    o: Observed, ctx: Context, client_id: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(data without the secret value, labels, annotations) the Secret must carry.

    The identity annotations (secret id, expiry, fingerprint) are added by the writer, since
    they depend on which credential is written.
    """
    keys = o.spec.secret.keys
    data = {
        keys.client_id: client_id,
        keys.tenant_id: o.tenant_id,
        keys.token_url: ctx.token_url,
        keys.identity_url: ctx.identity_url,
    }
    labels = {
        **o.spec.secret.labels,
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        OWNER_UID_LABEL: o.uid,
    }
    annotations = {**o.spec.secret.annotations, SECRET_CLIENT_ID_ANNOTATION: client_id}
    return data, labels, annotations


def secret_credential_intact(secret: SecretObject, client_id: str, key: str) -> bool:
    """The Secret still holds the credential we wrote for this client, unedited."""
    value = secret.data.get(key)
    return (
        secret.owned
        and secret.secret_value is not None
        and value is not None
        and secret.annotations.get(SECRET_CLIENT_ID_ANNOTATION) == client_id
        and secret.annotations.get(SECRET_FINGERPRINT_ANNOTATION) == fingerprint(SecretStr(value))
        and _int_or_none(secret.annotations.get(SECRET_ID_ANNOTATION)) is not None
    )


def secret_fields_match(secret: SecretObject, o: Observed, ctx: Context, client_id: str) -> bool:
    data, labels, annotations = desired_secret_fields(o, ctx, client_id)
    secret_key = o.spec.secret.keys.client_secret
    observed = {k: v for k, v in secret.data.items() if k != secret_key}
    return (
        observed == data
        and secret_key in secret.data
        and all(secret.labels.get(k) == v for k, v in labels.items())
        and all(secret.annotations.get(k) == v for k, v in annotations.items())
    )


def current_from_secret(secret: SecretObject) -> CurrentSecret | None:
    secret_id = _int_or_none(secret.annotations.get(SECRET_ID_ANNOTATION))
    if secret_id is None:
        return None
    expires = secret.annotations.get(SECRET_EXPIRES_ANNOTATION)
    return CurrentSecret(
        id=secret_id,
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def decide(o: Observed, ctx: Context) -> Plan:
    spec, status = o.spec, o.status
    client_id = status.client_id or spec.desired_client_id(o.uid)
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

    if status.client_id is not None and status.client_id != spec.desired_client_id(o.uid):
        plan.blocked = Blocked(
            Reason.CLIENT_ID_CHANGED,
            f"spec.clientId differs from the client this resource manages "
            f"({status.client_id!r}); client ids are immutable. Restore spec.clientId.",
        )
        return plan

    if status.client_id is None:
        if (spec.client_id is None and o.secret is not None
                and secret_credential_intact(o.secret, client_id, spec.secret.keys.client_secret)):
            # Our Secret holds a credential of our uid-derived client: a create whose status
            # write was lost (no intent is recorded for derived ids). The Secret is the truth.
            return _decide_managed(o, ctx, plan)
        return _decide_first(o, ctx, plan)
    return _decide_managed(o, ctx, plan)


def _decide_first(o: Observed, ctx: Context, plan: Plan) -> Plan:
    """No client recorded yet: create one, adopt one, or refuse a taken id."""
    if o.remote_observed and o.remote is not None:
        if o.remote.owner is not None and o.remote.owner != o.uid:
            # Its tag says another resource manages it (perhaps in a namespace or cluster we
            # do not watch): never ours to take, adopt or not.
            plan.blocked = Blocked(
                Reason.CLIENT_ID_TAKEN,
                f"Client {plan.client_id!r} is managed by another ClientCredentialClient (its "
                "owner tag says so). Choose another spec.clientId.",
            )
            return plan
        if not o.spec.adopt:
            plan.blocked = Blocked(
                Reason.CLIENT_ID_TAKEN,
                f"A client with id {plan.client_id!r} already exists in tenant "
                f"{o.tenant_id!r}. Set spec.adopt: true to take it over, or choose "
                "another spec.clientId.",
            )
            return plan
        plan.adopt = True
        plan.record_intent = True
        desired = desired_remote(o, plan.client_id, ctx, o.remote)
        if not o.remote.satisfies(desired):
            plan.update = desired
        plan.issue_secret = IssueReason.ADOPTED
        plan.write_secret = True
        return _finish(o, ctx, plan, None)
    # The id is recorded before the POST only when the caller chose it: after a crash, a
    # chosen id found remotely would otherwise look taken by someone else. An id derived
    # from our uid nobody else can hold: a lost answer is resolved by POSTing the same id
    # again (409: ours; issue a secret, revoke the unknown one), so the write is not needed.
    plan.record_intent = o.spec.client_id is not None
    plan.create = True
    plan.write_secret = True
    return _finish(o, ctx, plan, None)


def _decide_managed(o: Observed, ctx: Context, plan: Plan) -> Plan:
    status = o.status
    key = o.spec.secret.keys.client_secret
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


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def new_current(secret_id: int, expires_at: datetime | None, now: datetime) -> CurrentSecret:
    return CurrentSecret(id=secret_id, expires_at=expires_at, issued_at=now)


def retire(current: CurrentSecret | None, now: datetime, grace: timedelta) -> RetiringSecret | None:
    if current is None:
        return None
    return RetiringSecret(id=current.id, revoke_after=now + grace)
