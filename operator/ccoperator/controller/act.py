"""Acting on a plan: the identity service (create, update, secrets) and the Secret, in the
order that makes a create exactly-once (ARCHITECTURE rule 2):

    record intent -> create -> update -> issue secret -> write Secret -> revoke -> status

The client id is fixed before the POST (recorded first when the caller chose it); the
credential goes into the Secret before status says Ready; the Secret's annotations name the
secret id it holds, so a crash between Secret and status loses nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from .. import failpoints
from .. import reconcile as rc
from ..api.clients import ClientStatus, CurrentSecret, RetiringSecret
from ..api.conditions import Reason
from ..identity import ClientCreate, ClientDto, ClientNotFound, Conflict, OutcomeUnknown
from ..kube.api import KubeApi
from .credentials import Credential, CredentialWriter
from .gate import Admitted, Gate
from .observe import Observer
from .status import StatusWriter
from .view import Outcome

log = logging.getLogger("ccoperator.controller")


class ClientExists(Exception):
    """A create of the derived id found the client there already: read it, decide again."""


class Actor:
    def __init__(self, *, gate: Gate, kube: KubeApi, observer: Observer,
                 status: StatusWriter, grace_period: timedelta) -> None:
        self._gate = gate
        self._kube = kube
        self._status = status
        self._grace = grace_period
        self._credentials = CredentialWriter(kube, observer)
        # uid -> the uid-derived client id whose create may have landed unseen (no answer, or
        # a 409): the next pass resolves it with a secret add on that id, not another POST.
        # Kept across terms: it only picks which of two safe reads comes first (a secret add
        # answered 404 falls back to the POST), whatever another leader did meanwhile.
        self._landed: dict[str, str] = {}
        # uid -> the derived client id this process POSTed without learning the outcome
        # (any unknown outcome): a later 409 on it is that create, not an earlier life's.
        self._posted: dict[str, str] = {}

    def forget(self, uid: str) -> None:
        self._landed.pop(uid, None)
        self._posted.pop(uid, None)

    async def execute(self, o: rc.Observed, plan: rc.Plan, ctx: rc.Context,
                      admitted: Admitted) -> Outcome:
        status = o.status
        if plan.record_intent:
            status = await self._status.write(
                o, status.model_copy(update={"client_id": plan.client_id,
                                             "tenant_id": o.tenant_id,
                                             "secret_name": plan.secret_name,
                                             "adopted": plan.adopt}),
                False, Reason.CREATING,
                f"Creating client {plan.client_id!r} in tenant {o.tenant_id!r}.")
        lifetime = o.spec.lifetime(ctx.default_lifetime)
        expires_at = o.now + lifetime if lifetime is not None else None
        credential: Credential | None = None
        revoke_unknown = plan.revoke_unknown
        if plan.create:
            created = await self._create(o, plan, ctx, admitted, expires_at, status)
            if isinstance(created, Outcome):
                return created
            credential, revoke_unknown = created
        await self._update(o, plan, admitted)
        if plan.issue_secret is not None and credential is None:
            credential = await self._credentials.issue(o, admitted, expires_at)
        current, retiring = self._carried_over(o, plan, status)
        if plan.reclaim and credential is not None:
            # Every secret but the new one may be held by a workload of the cluster this
            # client came from (a blue/green switch, a restore): they retire with the grace.
            retiring.extend(RetiringSecret(id=secret_id, revoke_after=o.now + self._grace)
                            for secret_id in sorted(await self._credentials.others(
                                o, admitted, credential, plan))
                            if all(r.id != secret_id for r in retiring))
        if plan.remark and current is not None:
            await self._credentials.remark(o, admitted, current.id)
        if plan.write_secret:
            await self._credentials.write(o, plan, ctx, credential)
            failpoints.hit(failpoints.AFTER_SECRET_WRITE)
        if credential is not None:
            current = rc.new_current(credential.secret_id, credential.expires_at, o.now)
            self._announce_issue(o, plan, credential)
        if plan.delete_old_secret:
            await self._kube.delete_secret(o.namespace, plan.delete_old_secret, o.uid)
        revoked = await self._credentials.revoke(o, admitted, plan, current, retiring,
                                                 revoke_unknown, credential)
        retiring = [r for r in retiring if r.id not in revoked]
        return await self._ready(o, plan, ctx, status, current, retiring, credential, revoked)

    # ------------------------------------------------------------------------ the client

    async def _create(
        self, o: rc.Observed, plan: rc.Plan, ctx: rc.Context, admitted: Admitted,
        expires_at: datetime | None, status: ClientStatus,
    ) -> tuple[Credential, bool] | Outcome:
        """The client exists after this, with a credential we hold: (it, revoke the secrets
        nobody holds?). An Outcome when the caller-chosen id turned out to be taken."""
        credential = await self._resolve_lost_create(o, plan, admitted, expires_at)
        if credential is not None:
            self._status.event(o, False, "Created",
                               f"Created client {plan.client_id!r} in tenant {o.tenant_id!r}.")
            return credential, True
        desired = rc.desired_remote(o, plan.client_id, ctx)
        revoke_unknown = plan.revoke_unknown
        try:
            created = await admitted.connection.identity.create_client(
                o.tenant_id, ClientCreate(
                    client_id=plan.client_id, name=desired.name,
                    role_ids=sorted(desired.role_ids), enabled=desired.enabled,
                    access_token_lifetime=desired.access_token_lifetime,
                    tags=desired.wire_tags(),
                    secret_description=self._credentials.description(o),
                    secret_expiration_date=expires_at))
        except OutcomeUnknown as exc:
            if o.spec.client_id is None:
                self._posted[o.uid] = plan.client_id
                if exc.status is None or 200 <= exc.status < 300:
                    # No answer (or one we could not read): it probably landed. A 5xx answer
                    # probably did not, and POSTing the same id again is the cheaper read.
                    self._landed[o.uid] = plan.client_id
            raise
        except Conflict:
            if o.spec.client_id is not None:
                return await self._taken_meanwhile(o, plan, ctx, status)
            if plan.client_id not in (self._landed.get(o.uid), self._posted.get(o.uid)):
                # Our derived id exists and this process never sent it: a client this
                # declaration made in an earlier life of the cluster (or another process's
                # lost answer). Read it and decide again (its mark says whose it is).
                raise ClientExists(plan.client_id) from None
            # Our derived id: an earlier POST of ours landed but its answer was lost.
            # The client is ours, its first secret unknown: issue one, revoke the rest
            # (if this pass fails from here on, the next one starts with the secret).
            self._landed[o.uid] = plan.client_id
            credential = await self._credentials.issue(o, admitted, expires_at)
            revoke_unknown = True
        else:
            credential = Credential(created.client_secret, created.secret_id,
                                    created.secret_expiration_date)
            failpoints.hit(failpoints.AFTER_CREATE_ANSWER)
            admitted.connection.remote.remember(o.tenant_id, desired)
        if plan.recreate:
            self._status.event(o, True, "Recreated",
                               f"Client {plan.client_id!r} was missing from tenant "
                               f"{o.tenant_id!r} and was created again with new credentials.")
        else:
            self._status.event(o, False, "Created",
                               f"Created client {plan.client_id!r} in tenant {o.tenant_id!r}.")
        return credential, revoke_unknown

    async def _resolve_lost_create(self, o: rc.Observed, plan: rc.Plan, admitted: Admitted,
                                   expires_at: datetime | None) -> Credential | None:
        """An earlier POST of this uid-derived id got no answer (or a 409): the client most
        likely exists, with a secret nobody holds. Resolve by asking that id for a new secret
        rather than by POSTing it again: the answer says whether the client exists (404: it
        does not, create it) and, unversioned, which secrets it holds."""
        if (self._landed.get(o.uid) != plan.client_id or o.spec.client_id is not None
                or o.remote_observed):
            return None
        try:
            return await self._credentials.issue(o, admitted, expires_at)
        except ClientNotFound:
            self._landed.pop(o.uid, None)
            return None

    async def _taken_meanwhile(self, o: rc.Observed, plan: rc.Plan, ctx: rc.Context,
                               status: ClientStatus) -> Outcome:
        """A caller-chosen id taken between our GET and POST: someone else's."""
        self._gate.claims.release(o.uid)
        await self._status.write(
            o, status.model_copy(update={"client_id": None, "adopted": False}), False,
            Reason.CLIENT_ID_TAKEN,
            f"A client with id {plan.client_id!r} already exists in tenant {o.tenant_id!r}. "
            "Set spec.adopt: true to take it over, or choose another spec.clientId.")
        return Outcome(ctx.resync, ready=False)

    async def _update(self, o: rc.Observed, plan: rc.Plan, admitted: Admitted) -> None:
        if plan.update is None:
            if plan.adopt:
                self._status.event(o, False, "Adopted",
                                   f"Adopted existing client {plan.client_id!r}.")
            return
        await admitted.connection.identity.update_client(o.tenant_id, plan.client_id, ClientDto(
            client_id=plan.client_id,
            name=plan.update.name,
            role_ids=sorted(plan.update.role_ids),
            enabled=plan.update.enabled,
            access_token_lifetime=plan.update.access_token_lifetime,
            tags=plan.update.wire_tags(),
        ))
        admitted.connection.remote.remember(o.tenant_id, plan.update)
        self._status.event(o, False, "Updated" if not plan.adopt else "Adopted",
                           f"Client {plan.client_id!r} updated to match the spec."
                           if not plan.adopt else f"Adopted existing client {plan.client_id!r}.")

    # ---------------------------------------------------------------------- the secrets

    def _carried_over(self, o: rc.Observed, plan: rc.Plan, status: ClientStatus
                      ) -> tuple[CurrentSecret | None, list[RetiringSecret]]:
        """The current secret and the retiring ones, after what this plan retires."""
        current = status.current_secret
        # A new client has none of the old client's secrets.
        retiring = [] if plan.create else list(status.retiring_secrets)
        for leaving in (current if plan.retire_current else None, plan.retire_previous):
            retired = rc.retire(leaving, o.now, self._grace)
            if retired is not None and all(r.id != retired.id for r in retiring):
                retiring.append(retired)
        if plan.recover_current is not None:
            current = plan.recover_current
        return current, retiring

    def _announce_issue(self, o: rc.Observed, plan: rc.Plan, credential: Credential) -> None:
        if plan.issue_secret is rc.IssueReason.RESUMED:
            self._status.event(o, False, "Created",
                               f"Created client {plan.client_id!r} in tenant {o.tenant_id!r}.")
        elif plan.issue_secret is rc.IssueReason.RECLAIMED:
            self._status.event(o, False, "Reclaimed",
                               f"Took back client {plan.client_id!r} (it carries this "
                               f"declaration's mark): issued secret {credential.secret_id}; "
                               "its other secrets stay valid until "
                               f"{(o.now + self._grace).isoformat(timespec='seconds')}.")
        elif plan.issue_secret in (rc.IssueReason.EXPIRING, rc.IssueReason.REQUESTED):
            self._status.event(o, False, "Rotated",
                               f"Issued secret {credential.secret_id} for client "
                               f"{plan.client_id!r}; the previous one stays valid until "
                               f"{(o.now + self._grace).isoformat(timespec='seconds')}.")
        elif plan.issue_secret in (rc.IssueReason.MISSING, rc.IssueReason.REPLACED):
            self._status.event(o, True, "SecretReplaced",
                               f"The credential in Secret {plan.secret_name!r} was missing or "
                               f"altered; issued secret {credential.secret_id} and revoked the "
                               "lost one.")

    # ------------------------------------------------------------------------ the status

    async def _ready(self, o: rc.Observed, plan: rc.Plan, ctx: rc.Context,
                     status: ClientStatus, current: CurrentSecret | None,
                     retiring: list[RetiringSecret], credential: Credential | None,
                     revoked: set[int]) -> Outcome:
        final = status.model_copy(update={
            "client_id": plan.client_id,
            "tenant_id": o.tenant_id,
            "secret_name": plan.secret_name,
            "adopted": status.adopted or plan.adopt,
            "current_secret": current,
            "retiring_secrets": tuple(retiring),
            "rotation_request": (o.rotate_request if credential is not None
                                 else status.rotation_request),
            # The mark now says so: tags were put right (v1), or a secret issued or re-marked.
            "owner_key": (o.owner_key if ctx.tagged or credential is not None or plan.remark
                          else status.owner_key),
            # Managed now (observed before, perhaps): nothing observed-only to report.
            "observed": None, "drift": None, "drift_count": None,
        })
        await self._status.write(
            o, final, True, Reason.CLIENT_READY,
            f"Client {plan.client_id!r} in tenant {o.tenant_id!r} is ready; credentials are in "
            f"Secret {plan.secret_name!r}.")
        # Resolved: the Secret and status hold the client now.
        self._landed.pop(o.uid, None)
        self._posted.pop(o.uid, None)
        requeue = plan.requeue_after or ctx.resync
        if credential is not None or revoked:
            requeue = min(requeue, _next_wake(final, ctx, o.now))
        return Outcome(requeue, ready=True)


def _next_wake(status: ClientStatus, ctx: rc.Context, now: datetime) -> timedelta:
    wake = [now + ctx.resync]
    wake.extend(r.revoke_after for r in status.retiring_secrets)
    return max(min(wake) - now, timedelta(seconds=1))
