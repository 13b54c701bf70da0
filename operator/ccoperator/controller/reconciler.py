"""The reconcile path: observe, decide (reconcile.py), act, write status.

One instance serves the whole operator. It knows nothing about kopf: handlers.py turns kopf's
callbacks into calls of `reconcile` and `finalize`, and passes an event sink.

Ordering is what makes create exactly-once (ARCHITECTURE rule 2): the client id is written to
status before the POST; an unknown outcome is resolved on the next pass by a GET on that id;
the credential goes into the Secret before status says Ready; the Secret's annotations name
the secret id it holds, so a crash between Secret and status loses nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import SecretStr

from .. import failpoints, metrics
from .. import reconcile as rc
from ..api.clients import (
    ROTATE_ANNOTATION,
    SECRET_EXPIRES_ANNOTATION,
    SECRET_FINGERPRINT_ANNOTATION,
    SECRET_ID_ANNOTATION,
    ClientSpec,
    ClientStatus,
    CurrentSecret,
    DeletionPolicy,
    RetiringSecret,
)
from ..api.conditions import READY, STALLED, Reason, ready_condition, stalled_condition
from ..identity import (
    ApiVersion,
    ClientCreate,
    ClientDto,
    ClientNotFound,
    Conflict,
    Forbidden,
    IdentityError,
    InvalidInput,
    MemberRoleRequired,
    NotFound,
    OutcomeUnknown,
    SecretCreate,
    TenantNotFound,
    Transient,
    Unauthorized,
)
from ..kube.api import KubeApi, KubeApiError, KubeConflict, Owner, status_merge_patch
from ..kube.secret_cache import SecretCache
from ..reconcile import policy
from ..tenants.credentials import CredentialsProblem
from .gate import Admitted, Gate
from .queue import RateLimiter

log = logging.getLogger("ccoperator.controller")

FINALIZED_MEMORY = 10_000
# A tenant object applied together with its clients may reach the watch after them: a missing
# one is reported only once this long has passed since the resource was created (or since
# this process started).
SETTLE_PERIOD = timedelta(seconds=10)
# Identity errors that are retried with backoff; every other one is reported as permanent.
RETRYABLE = (Transient, OutcomeUnknown, Unauthorized)


class Cause(StrEnum):
    CHANGE = "change"  # the resource or its Secret changed: read the remote client fresh
    RESUME = "resume"  # operator start: verify, reading from the tenant's paged list
    RESYNC = "resync"  # periodic: same as resume


@dataclass(frozen=True)
class ResourceView:
    """The parts of a ClientCredentialClient object the controller reads."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: dict[str, Any]
    status: dict[str, Any]
    annotations: dict[str, str]
    deleting: bool = False  # metadata.deletionTimestamp is set: only the finalizer acts
    finalizers: tuple[str, ...] = ()
    resource_version: str | None = None
    created: datetime | None = None  # metadata.creationTimestamp


class EventSink(Protocol):
    def __call__(self, view: ResourceView, *, warning: bool, reason: str, message: str) -> None:
        ...


@dataclass(frozen=True)
class Credential:
    """A freshly issued (or carried-over) secret. Lives only in memory, then in the Secret."""

    value: SecretStr
    secret_id: int
    expires_at: datetime | None
    # Every secret id of the client right after this one was issued, when the add answer
    # said so (unversioned form): which secrets nobody holds is then known without a list.
    client_secrets: frozenset[int] | None = None


@dataclass(frozen=True)
class Outcome:
    requeue_after: timedelta
    ready: bool


class Controller:
    def __init__(
        self,
        *,
        gate: Gate,
        kube: KubeApi,
        events: EventSink,
        grace_period: timedelta,
        resync: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._gate = gate
        self._kube = kube
        self._events = events
        self._grace = grace_period
        self._resync = resync
        self._clock = clock
        self._started = clock()
        self._secrets = SecretCache()
        # Per-resource backoff, shared with the work queue (which also uses it for failures
        # the reconcile does not handle itself).
        self.backoff: RateLimiter[str] = RateLimiter()
        # The operator is the only writer of status: what we wrote last is newer than any
        # watch event that has not caught up with it yet.
        self._written_status: dict[str, ClientStatus] = {}
        # resourceVersion of the Secret we last wrote, per resource: its watch event is ours.
        self._secret_versions: dict[str, str] = {}
        # A Secret read ahead by the worker while the finalizer PATCH was in flight (its
        # name, key and what the GET found), for this pass only (prefetch_secret).
        self._prefetched: dict[str, tuple[str, str, rc.SecretObject | None]] = {}
        # The secret lifetime each resource's tenant grants when its spec sets none (metrics).
        self._lifetimes: dict[str, timedelta | None] = {}
        # uid -> the uid-derived client id whose create may have landed unseen (no answer, or
        # a 409): the next pass resolves it with a secret add on that id, not another POST.
        self._landed: dict[str, str] = {}
        # Resources whose finalizer ran: no reconcile may touch them again. Bounded: a loop
        # holding a stale view of a deleted resource is gone within seconds.
        self._finalized: OrderedDict[str, None] = OrderedDict()

    async def context(self, admitted: Admitted) -> rc.Context:
        connection = admitted.connection
        return rc.Context(
            identity_url=connection.identity_url,
            token_url=await connection.identity.discover_token_url(),
            default_lifetime=admitted.default_lifetime,
            grace_period=self._grace,
            resync=self._resync,
            tagged=connection.identity.api_version is ApiVersion.V1,
        )

    def forget(self, uid: str) -> None:
        metrics.forget_resource(uid)
        self._written_status.pop(uid, None)
        self._secret_versions.pop(uid, None)
        self._lifetimes.pop(uid, None)
        self._landed.pop(uid, None)
        self.backoff.forget(uid)

    def reset(self) -> None:
        """Forget what this process wrote (a new term as leader: another leader may have
        written since), keeping the watch's copies of managed Secrets."""
        self._written_status.clear()
        self._secret_versions.clear()
        # `_landed` is kept: it only picks which of two safe reads comes first (a secret add
        # answered 404 falls back to the POST), whatever another leader did meanwhile.
        self.backoff.clear()

    def _settling(self, view: ResourceView) -> timedelta | None:
        """The rest of SETTLE_PERIOD after the resource was created or this process started,
        whichever is later (None: over)."""
        since = max(self._started, view.created or self._started)
        left = since + SETTLE_PERIOD - self._clock()
        return left if left > timedelta(0) else None

    def _retry_in(self, uid: str, retry_after: float | None = None) -> timedelta:
        return timedelta(seconds=self.backoff.next_delay(uid, retry_after))

    # ----------------------------------------------------------------------------- reconcile

    async def reconcile(self, view: ResourceView, cause: Cause) -> Outcome:
        if view.deleting or view.uid in self._finalized:
            # Never act on a resource being deleted: a pass after the finalizer removed the
            # remote client would find it missing and create it again, orphaned.
            return Outcome(self._resync, ready=False)
        status = self._written_status.get(view.uid) or ClientStatus.from_body(view.status)
        try:
            spec = ClientSpec.model_validate(view.spec)
        except ValueError as exc:
            # The CRD schema admits only valid specs; this guards against an older CRD.
            await self._write_status(view, status, False, Reason.INVALID_SPEC,
                                     f"spec is invalid: {_first_line(exc)}")
            return Outcome(self._resync, ready=False)
        try:
            outcome = await self._reconcile(view, spec, status, cause)
        except (Transient, OutcomeUnknown) as exc:
            # The service may have said when to come back (429/503 Retry-After): never sooner.
            delay = self._retry_in(view.uid, exc.retry_after if isinstance(exc, Transient)
                                   else None)
            await self._degrade(view, Reason.IDENTITY_UNAVAILABLE,
                                f"The identity service did not answer reliably ({exc}); "
                                f"retrying in {delay.total_seconds():.0f}s.")
            return Outcome(delay, ready=False)
        except Unauthorized as exc:
            delay = self._retry_in(view.uid)
            await self._degrade(view, Reason.UNAUTHORIZED,
                                "The identity service rejected the credentials of the tenant "
                                f"object {spec.tenant_ref.kind} {spec.tenant_ref.name!r} "
                                f"({exc}); check its credentials Secret (or the operator's "
                                "CCOPERATOR_CLIENT_ID/_SECRET when it names none).")
            return Outcome(delay, ready=False)
        except KubeConflict as exc:
            log.info("%s/%s: %s; reconciling again", view.namespace, view.name, exc)
            return Outcome(self._retry_in(view.uid), ready=False)
        except KubeApiError as exc:
            # An error status or no answer at all (API server restarting, timeout): usually
            # brief, so back off and retry. str(exc) names the call and status, never a body.
            delay = self._retry_in(view.uid)
            await self._degrade(view, Reason.KUBERNETES_ERROR,
                                f"A Kubernetes API call failed ({exc}); "
                                f"retrying in {delay.total_seconds():.0f}s.")
            return Outcome(delay, ready=False)
        self.backoff.forget(view.uid)
        return outcome

    async def _reconcile(
        self, view: ResourceView, spec: ClientSpec, status: ClientStatus, cause: Cause
    ) -> Outcome:
        # Policy first: a refused pass makes no identity call at all.
        admitted = await self._gate.admit(uid=view.uid, namespace=view.namespace, spec=spec,
                                          status=status)
        if isinstance(admitted, policy.Denial):
            return await self._refused(view, status, admitted)
        if isinstance(admitted, CredentialsProblem):
            delay = self._retry_in(view.uid)
            await self._degrade(view, Reason.UNAUTHORIZED,
                                f"The tenant object {spec.tenant_ref.kind} "
                                f"{spec.tenant_ref.name!r} has no usable credentials: "
                                f"{admitted.message}")
            return Outcome(delay, ready=False)
        try:
            return await self._reconcile_admitted(view, spec, status, cause, admitted)
        except Unauthorized:
            # Perhaps the credentials Secret changed: read it again now, not at the next check.
            await self._gate.registry.refresh_credentials(admitted.key)
            raise

    async def _refused(self, view: ResourceView, status: ClientStatus,
                       denial: policy.Denial) -> Outcome:
        if denial.may_settle:
            settling = self._settling(view)
            if settling is not None:
                # Applied together with its tenant object, which the watch may not have shown
                # yet: try again quietly (the tenant object's arrival wakes it sooner).
                return Outcome(settling, ready=False)
        metrics.observe_denial(denial.reason.value)
        if denial.reason is Reason.CLIENT_ID_TAKEN and status.client_id is not None:
            # We recorded an id another resource keeps: let go of it, so that deleting this
            # resource can never delete the other one's client.
            status = status.model_copy(update={"client_id": None, "adopted": False})
        await self._write_status(view, status, False, denial.reason, denial.message)
        return Outcome(self._resync, ready=False)

    async def _reconcile_admitted(
        self, view: ResourceView, spec: ClientSpec, status: ClientStatus, cause: Cause,
        admitted: Admitted,
    ) -> Outcome:
        ctx = await self.context(admitted)
        self._lifetimes[view.uid] = admitted.default_lifetime
        try:
            remote_observed, remote = await self._observe_remote(admitted, spec, status, view,
                                                                 cause)
        except RETRYABLE:
            raise  # reconcile() backs off; a working client stays Ready meanwhile
        except IdentityError as exc:
            return await self._permanent(view, status, admitted.tenant_id, exc)
        secret = await self._observe_secret(view, spec, cause, status)
        observed = rc.Observed(
            name=view.name,
            namespace=view.namespace,
            uid=view.uid,
            generation=view.generation,
            spec=spec,
            status=status,
            tenant_id=admitted.tenant_id,
            rotate_request=view.annotations.get(ROTATE_ANNOTATION),
            remote_observed=remote_observed,
            remote=remote,
            secret=secret,
            now=self._clock(),
            remote_assumed=not remote_observed and status.client_id is not None,
        )
        plan = rc.decide(observed, ctx)
        if plan.blocked is not None:
            if status.client_id is None:
                self._gate.claims.release(view.uid)  # never recorded: let others have the id
            if plan.blocked.reason is Reason.SECRET_CONFLICT:
                # Someone else's Secret holds the name: its deletion (a watch event) wakes us.
                self._secrets.wait_for(view.namespace, plan.secret_name, view.uid)
            await self._write_status(view, status, False, plan.blocked.reason, plan.blocked.message)
            return Outcome(self._resync, ready=False)
        try:
            try:
                return await self._execute(observed, plan, ctx, admitted)
            except ClientNotFound:
                if not observed.remote_assumed:
                    raise
            # The PUT of a spec change found no client: gone remotely; decide on that.
            observed = dataclasses.replace(observed, remote_observed=True, remote=None,
                                           remote_assumed=False)
            return await self._execute(observed, rc.decide(observed, ctx), ctx, admitted)
        except RETRYABLE:
            raise
        except IdentityError as exc:
            latest = self._written_status.get(view.uid, status)
            return await self._permanent(view, latest, admitted.tenant_id, exc)

    async def prefetch_secret(self, view: ResourceView) -> None:
        """Read the Secret the coming change pass would read first (a GET, never the cache),
        so that the read overlaps the finalizer PATCH instead of following it: one round
        trip less before a first create's POST. Kept only for that pass (`drop_prefetched`);
        a failed read is simply not kept (the pass reads again)."""
        try:
            spec = ClientSpec.model_validate(view.spec)
        except ValueError:
            return  # the pass reports it
        name, key = spec.secret_name(view.name), spec.secret.keys.client_secret
        status = self._written_status.get(view.uid) or ClientStatus.from_body(view.status)
        if self._known_absent(view, name, status):
            return  # nothing to read: the pass takes "absent" from the watches
        secret = await self._kube.get_secret(view.namespace, name, view.uid, key)
        self._prefetched[view.uid] = (name, key, secret)

    def _known_absent(self, view: ResourceView, name: str, status: ClientStatus) -> bool:
        """A first create (no client recorded yet) whose Secret name neither watch knows.
        Only then: after a takeover, a pass of a recorded client could miss the Secret the
        last leader wrote a moment ago, and would issue a secret only to have its
        create-only write refused."""
        return status.client_id is None and self._secrets.known_absent(
            view.namespace, name, wrote_version=self._secret_versions.get(view.uid))

    def drop_prefetched(self, uid: str) -> None:
        self._prefetched.pop(uid, None)

    async def _observe_secret(
        self, view: ResourceView, spec: ClientSpec, cause: Cause, status: ClientStatus
    ) -> rc.SecretObject | None:
        name, key = spec.secret_name(view.name), spec.secret.keys.client_secret
        prefetched = self._prefetched.pop(view.uid, None)
        if cause is Cause.CHANGE and prefetched is not None and prefetched[:2] == (name, key):
            metrics.observe_secret_read("api")
            return prefetched[2]
        if cause is not Cause.CHANGE:
            # Verification passes read the watch's copy; a change (ours to react to, or a
            # Secret edit that woke us) is read fresh.
            cached = self._secrets.get(view.namespace, name, view.uid, key,
                                       wrote_version=self._secret_versions.get(view.uid))
            if cached is not None:
                metrics.observe_secret_read("watch")
                return cached
        if self._known_absent(view, name, status):
            # Neither watch knows a Secret of that name (a first create, mostly): as fresh
            # as a GET that finds nothing, and a create-only write still guards the race.
            metrics.observe_secret_read("watch")
            return None
        metrics.observe_secret_read("api")
        return await self._kube.get_secret(view.namespace, name, view.uid, key)

    def secret_seen(self, body: Mapping[str, Any]) -> None:
        """A managed Secret as the watch showed it (listed, added or modified)."""
        self._secrets.seen(body)

    def secret_gone(self, body: Mapping[str, Any]) -> set[str]:
        """A managed Secret was deleted; returns the resources that were waiting for its
        name (SecretConflict)."""
        return self._secrets.gone(body)

    @property
    def secrets(self) -> SecretCache:
        """The watches' copies of Secrets (streams.py fills the foreign names directly)."""
        return self._secrets

    async def _observe_remote(
        self, admitted: Admitted, spec: ClientSpec, status: ClientStatus, view: ResourceView,
        cause: Cause,
    ) -> tuple[bool, rc.RemoteClient | None]:
        if not rc.needs_remote(spec, status):
            return False, None
        remote, tenant = admitted.connection.remote, admitted.tenant_id
        if (cause is Cause.CHANGE and status.client_id is not None
                and view.generation != status.observed_generation):
            # A spec change: PUT what the spec says without reading first (one identity call;
            # a 404 means recreate, see _reconcile_admitted). The copy we last read or wrote
            # supplies the tags that are not ours; without one a v1 client is read first.
            known = remote.peek(tenant, admitted.client_id)
            if known is not None or admitted.connection.identity.api_version is not ApiVersion.V1:
                return False, known
        if cause is Cause.CHANGE or status.client_id is None:
            return True, await remote.get(tenant, admitted.client_id)
        return True, await remote.get_cached(tenant, admitted.client_id,
                                             since_start=cause is Cause.RESUME)

    async def _execute(self, o: rc.Observed, plan: rc.Plan, ctx: rc.Context,
                       admitted: Admitted) -> Outcome:
        status = o.status
        spec = o.spec
        tenant = o.tenant_id
        identity = admitted.connection.identity
        remote = admitted.connection.remote
        now = o.now
        if plan.record_intent:
            status = status.model_copy(update={
                "client_id": plan.client_id,
                "tenant_id": tenant,
                "secret_name": plan.secret_name,
                "adopted": plan.adopt,
            })
            status = await self._write_status(o, status, False, Reason.CREATING,
                                              f"Creating client {plan.client_id!r} in tenant "
                                              f"{tenant!r}.")

        credential: Credential | None = None
        revoke_unknown = plan.revoke_unknown
        lifetime = spec.lifetime(ctx.default_lifetime)
        expires_at = now + lifetime if lifetime is not None else None
        if plan.create and self._landed.get(o.uid) == plan.client_id and (
                spec.client_id is None and not o.remote_observed):
            # An earlier POST of this uid-derived id got no answer (or a 409): the client
            # most likely exists, with a secret nobody holds. Resolve by asking that id for a
            # new secret rather than by POSTing it again: the answer says whether the client
            # exists (404: it does not, create it) and, unversioned, which secrets it holds.
            try:
                credential = await self._issue(o, admitted, expires_at)
            except ClientNotFound:
                self._landed.pop(o.uid, None)
            else:
                revoke_unknown = True
                self._event(o, False, "Created",
                            f"Created client {plan.client_id!r} in tenant {tenant!r}.")
        if plan.create and credential is None:
            desired = rc.desired_remote(o, plan.client_id, ctx)
            try:
                created = await identity.create_client(tenant, ClientCreate(
                    client_id=plan.client_id,
                    name=desired.name,
                    role_ids=sorted(desired.role_ids),
                    enabled=desired.enabled,
                    access_token_lifetime=desired.access_token_lifetime,
                    tags=desired.wire_tags(),
                    secret_description=self._secret_description(o),
                    secret_expiration_date=expires_at,
                ))
            except OutcomeUnknown as exc:
                if spec.client_id is None and (exc.status is None or 200 <= exc.status < 300):
                    # No answer (or one we could not read): it probably landed. A 5xx answer
                    # probably did not, and POSTing the same id again is the cheaper read.
                    self._landed[o.uid] = plan.client_id
                raise
            except Conflict:
                if spec.client_id is not None:
                    # A caller-chosen id taken between our GET and POST: someone else's.
                    self._gate.claims.release(o.uid)
                    status = status.model_copy(update={"client_id": None, "adopted": False})
                    await self._write_status(
                        o, status, False, Reason.CLIENT_ID_TAKEN,
                        f"A client with id {plan.client_id!r} already exists in tenant "
                        f"{tenant!r}. Set spec.adopt: true to take it over, or choose another "
                        "spec.clientId.")
                    return Outcome(ctx.resync, ready=False)
                # Our uid-derived id: an earlier POST of ours landed but its answer was lost.
                # The client is ours, its first secret unknown: issue one, revoke the rest
                # (if this pass fails from here on, the next one starts with the secret).
                self._landed[o.uid] = plan.client_id
                credential = await self._issue(o, admitted, expires_at)
                revoke_unknown = True
            else:
                credential = Credential(created.client_secret, created.secret_id,
                                        created.secret_expiration_date)
                failpoints.hit(failpoints.AFTER_CREATE_ANSWER)
                remote.remember(tenant, desired)
            if plan.recreate:
                self._event(o, True, "Recreated",
                            f"Client {plan.client_id!r} was missing from tenant {tenant!r} and "
                            "was created again with new credentials.")
            else:
                self._event(o, False, "Created",
                            f"Created client {plan.client_id!r} in tenant {tenant!r}.")

        if plan.update is not None:
            await identity.update_client(tenant, plan.client_id, ClientDto(
                client_id=plan.client_id,
                name=plan.update.name,
                role_ids=sorted(plan.update.role_ids),
                enabled=plan.update.enabled,
                access_token_lifetime=plan.update.access_token_lifetime,
                tags=plan.update.wire_tags(),
            ))
            remote.remember(tenant, plan.update)
            self._event(o, False, "Updated" if not plan.adopt else "Adopted",
                        f"Client {plan.client_id!r} updated to match the spec."
                        if not plan.adopt else f"Adopted existing client {plan.client_id!r}.")
        elif plan.adopt:
            self._event(o, False, "Adopted", f"Adopted existing client {plan.client_id!r}.")

        if plan.issue_secret is not None and credential is None:
            credential = await self._issue(o, admitted, expires_at)

        current = status.current_secret
        retiring = list(status.retiring_secrets)
        if plan.create:
            retiring = []  # a new client has none of the old client's secrets
        for leaving in (current if plan.retire_current else None, plan.retire_previous):
            retired = rc.retire(leaving, now, self._grace)
            if retired is not None and all(r.id != retired.id for r in retiring):
                retiring.append(retired)
        if plan.recover_current is not None:
            current = plan.recover_current

        if plan.write_secret:
            await self._write_secret(o, plan, ctx, credential)
            failpoints.hit(failpoints.AFTER_SECRET_WRITE)
        if credential is not None:
            current = rc.new_current(credential.secret_id, credential.expires_at, now)
            if plan.issue_secret in (rc.IssueReason.EXPIRING, rc.IssueReason.REQUESTED):
                self._event(o, False, "Rotated",
                            f"Issued secret {credential.secret_id} for client "
                            f"{plan.client_id!r}; the previous one stays valid until "
                            f"{(now + self._grace).isoformat(timespec='seconds')}.")
            elif plan.issue_secret in (rc.IssueReason.MISSING, rc.IssueReason.REPLACED):
                self._event(o, True, "SecretReplaced",
                            f"The credential in Secret {plan.secret_name!r} was missing or "
                            f"altered; issued secret {credential.secret_id} and revoked the "
                            "lost one.")
        if plan.delete_old_secret:
            await self._kube.delete_secret(o.namespace, plan.delete_old_secret, o.uid)

        revoked = await self._revoke(o, admitted, plan, current, retiring, revoke_unknown,
                                     credential)
        retiring = [r for r in retiring if r.id not in revoked]

        final = status.model_copy(update={
            "client_id": plan.client_id,
            "tenant_id": tenant,
            "secret_name": plan.secret_name,
            "adopted": status.adopted or plan.adopt,
            "current_secret": current,
            "retiring_secrets": tuple(retiring),
            "rotation_request": (o.rotate_request if credential is not None
                                 else status.rotation_request),
        })
        await self._write_status(
            o, final, True, Reason.CLIENT_READY,
            f"Client {plan.client_id!r} in tenant {tenant!r} is ready; credentials are in "
            f"Secret {plan.secret_name!r}.")
        self._landed.pop(o.uid, None)  # resolved: the Secret and status hold the client now
        requeue = plan.requeue_after or ctx.resync
        if credential is not None or revoked:
            requeue = min(requeue, self._next_wake(final, ctx, now))
        return Outcome(requeue, ready=True)

    def _next_wake(self, status: ClientStatus, ctx: rc.Context, now: datetime) -> timedelta:
        wake = [now + ctx.resync]
        wake.extend(r.revoke_after for r in status.retiring_secrets)
        return max(min(wake) - now, timedelta(seconds=1))

    def _secret_description(self, o: rc.Observed) -> str:
        return o.spec.secret.description or f"ccoperator {o.namespace}/{o.name}"

    async def _issue(self, o: rc.Observed, admitted: Admitted,
                     expires_at: datetime | None) -> Credential:
        identity = admitted.connection.identity
        answer = await identity.add_secret_listing(o.tenant_id, admitted.client_id, SecretCreate(
            description=self._secret_description(o), expiration=expires_at))
        added = answer.secret
        if added.value is None:
            # The secret exists remotely but we never saw its value: the next pass finds the
            # Secret still missing, issues another and revokes this one.
            raise OutcomeUnknown("the service added a secret but returned no value",
                                 method="POST", path="Secret")
        known = (frozenset(s.id for s in answer.secrets) if answer.secrets is not None
                 else None)
        return Credential(added.value, added.id, added.expiration, client_secrets=known)

    async def _write_secret(
        self, o: rc.Observed, plan: rc.Plan, ctx: rc.Context, credential: Credential | None
    ) -> None:
        data, labels, annotations = rc.desired_secret_fields(o, ctx, plan.client_id)
        key = o.spec.secret.keys.client_secret
        if credential is None:
            # Only the non-secret fields drifted: keep the value and its annotations.
            assert o.secret is not None and o.secret.secret_value is not None
            value = o.secret.secret_value
            for name in (SECRET_ID_ANNOTATION, SECRET_EXPIRES_ANNOTATION):
                if name in o.secret.annotations:
                    annotations[name] = o.secret.annotations[name]
        else:
            value = credential.value
            annotations[SECRET_ID_ANNOTATION] = str(credential.secret_id)
            annotations[SECRET_EXPIRES_ANNOTATION] = (
                credential.expires_at.isoformat() if credential.expires_at else "")
        annotations[SECRET_FINGERPRINT_ANNOTATION] = rc.fingerprint(value)
        data[key] = value.get_secret_value()
        existing = o.secret if o.secret is not None and o.secret.owned else None
        self._secret_versions[o.uid] = await self._kube.write_secret(
            Owner(o.name, o.namespace, o.uid), plan.secret_name, data, labels, annotations,
            existing,
        )

    def wrote_secret_version(self, uid: str, resource_version: str | None) -> bool:
        return resource_version is not None and self._secret_versions.get(uid) == resource_version

    async def _revoke(
        self,
        o: rc.Observed,
        admitted: Admitted,
        plan: rc.Plan,
        current: CurrentSecret | None,
        retiring: list[RetiringSecret],
        revoke_unknown: bool,
        credential: Credential | None,
    ) -> set[int]:
        tenant = o.tenant_id
        identity = admitted.connection.identity
        targets = set(plan.revoke_now)
        if revoke_unknown and current is not None:
            # Valid secrets are the one in the Secret and those in their grace period; any
            # other one came from an answer we never saw and nobody holds its value.
            keep = {current.id, *(r.id for r in retiring)}
            if (credential is not None and credential.secret_id == current.id
                    and credential.client_secrets is not None):
                # The add answer of this pass listed them all: the same as a list call now
                # (nothing else acts on this client while this pass holds its key).
                existing = set(credential.client_secrets)
            else:
                existing = {s.id for s in await identity.list_secrets(tenant, plan.client_id)}
            targets |= existing - keep
        revoked: set[int] = set()
        for secret_id in sorted(targets):
            with contextlib.suppress(NotFound):  # already gone: that is what we wanted
                await identity.delete_secret(tenant, plan.client_id, secret_id)
            revoked.add(secret_id)
        return revoked

    # ------------------------------------------------------------------------- status writes

    def _persisted(self, o: rc.Observed | ResourceView) -> ClientStatus:
        """The status as the API server has it: what we wrote last, else what we observed."""
        written = self._written_status.get(o.uid)
        if written is not None:
            return written
        return o.status if isinstance(o, rc.Observed) else ClientStatus.from_body(o.status)

    async def _write_status(
        self,
        o: rc.Observed | ResourceView,
        status: ClientStatus,
        ready: bool,
        reason: Reason,
        message: str,
        *,
        announce: bool = True,
    ) -> ClientStatus:
        """Write `status` with this Ready condition, as a merge patch of what changed.

        Nothing changed, nothing written: a resync that finds everything in order costs no
        Kubernetes write. A new failure reason is also posted as a warning event (unless
        the caller posts its own: `announce=False`).
        """
        persisted = self._persisted(o)
        previous = persisted.condition(READY)
        now = self._clock()
        condition = ready_condition(
            ready=ready, reason=reason, message=message, generation=o.generation,
            now=now, previous=previous,
        )
        # Stalled (for kstatus/Flux) follows Ready: present only while the user must act.
        stalled = stalled_condition(condition, now=now, previous=persisted.condition(STALLED))
        others = tuple(c for c in status.conditions if c.type not in (READY, STALLED))
        new = status.model_copy(update={
            "conditions": (condition, *((stalled,) if stalled else ()), *others),
            "observed_generation": o.generation,
        })
        old_wire, new_wire = persisted.to_wire(), new.to_wire()
        if new_wire != old_wire:
            await self._kube.patch_status(o.namespace, o.name,
                                          status_merge_patch(old_wire, new_wire))
            if announce and not ready and reason is not Reason.CREATING and (
                    previous is None or previous.reason != reason.value):
                self._event(o, True, reason.value, message)
        self._written_status[o.uid] = new
        self._observe_metrics(o, new)
        return new

    def _observe_metrics(self, o: rc.Observed | ResourceView, status: ClientStatus) -> None:
        """The resource's Ready reason and secret dates as this process last knew them."""
        metrics.observe_resource(o.uid, o.namespace, o.name, status, o.spec,
                                 self._lifetimes.get(o.uid))

    async def _degrade(self, view: ResourceView, reason: Reason, message: str) -> None:
        """A retryable failure. A client that works stays Ready: its credentials still do."""
        status = self._written_status.get(view.uid) or ClientStatus.from_body(view.status)
        ready = status.condition("Ready")
        log.warning("%s/%s: %s: %s", view.namespace, view.name, reason.value, message)
        if ready is not None and ready.status == "True":
            self._observe_metrics(view, status)
            return
        try:
            await self._write_status(view, status, False, reason, message)
        except Exception:
            log.exception("%s/%s: could not write status", view.namespace, view.name)

    async def _permanent(self, view: ResourceView, status: ClientStatus, tenant: str,
                         exc: IdentityError) -> Outcome:
        if isinstance(exc, TenantNotFound):
            reason, message = Reason.TENANT_NOT_FOUND, (
                f"Tenant {tenant!r} does not exist in the identity service. Fix the tenant "
                "object's spec.tenantId (immutable: recreate it).")
        elif isinstance(exc, Forbidden):
            reason, message = Reason.FORBIDDEN, (
                f"The tenant object's client may not manage clients in tenant {tenant!r} "
                f"({exc}). Grant it the Account Administrator role there.")
        elif isinstance(exc, MemberRoleRequired):
            reason, message = Reason.INVALID_SPEC, (
                f"The identity service rejected the roles: {exc}. In the v1 API form every "
                "client must hold its tenant's Member role: add that role id to spec.roleIds "
                "(and to the tenant object's allowedRoleIds).")
        elif isinstance(exc, InvalidInput):
            reason, message = Reason.INVALID_SPEC, (
                f"The identity service rejected the spec: {exc}. Fix the spec "
                "(for example: spec.roleIds must be role ids of this tenant).")
        else:
            reason, message = Reason.IDENTITY_UNAVAILABLE, (
                f"Unexpected answer from the identity service: {exc}.")
        await self._write_status(view, status, False, reason, message)
        return Outcome(self._resync, ready=False)

    def _event(self, o: rc.Observed | ResourceView, warning: bool, reason: str,
               message: str) -> None:
        view = o if isinstance(o, ResourceView) else ResourceView(
            name=o.name, namespace=o.namespace, uid=o.uid, generation=o.generation,
            spec={}, status={}, annotations={})
        self._events(view, warning=warning, reason=reason, message=message)

    # -------------------------------------------------------------------------------- delete

    async def finalize(self, view: ResourceView) -> None:
        """Delete the remote client (Delete policy). Raises to be retried; never drops it."""
        status = self._written_status.get(view.uid) or ClientStatus.from_body(view.status)
        try:
            spec = ClientSpec.model_validate(view.spec)
        except ValueError:
            log.warning("%s/%s: unreadable spec at deletion; leaving any remote client",
                        view.namespace, view.name)
            self.forget(view.uid)
            return
        self._finalized[view.uid] = None
        while len(self._finalized) > FINALIZED_MEMORY:
            self._finalized.popitem(last=False)
        client_id, tenant = status.client_id, status.tenant_id
        if (client_id is None and spec.client_id is None
                and spec.deletion_policy is DeletionPolicy.DELETE):
            # A uid-derived id is not recorded before its POST (reconcile.decide): a create
            # whose answer was lost left a client only this resource can own. Delete that id
            # (a 404 when it was never created).
            tenant = await self._gate.tenant_id_of(view.namespace, spec)
            client_id = spec.desired_client_id(view.uid) if tenant is not None else None
        if spec.deletion_policy is DeletionPolicy.ORPHAN or client_id is None or tenant is None:
            self.forget(view.uid)
            return
        kept = self._kept_at_deletion(view.uid, tenant, client_id)
        if kept is not None:
            # Never ours to delete, whatever this resource's status says; said out loud (a
            # warning event and the condition), since the user asked for a deletion.
            reason, why = kept
            message = (f"Not deleting client {client_id!r} from tenant {tenant!r}: {why}. "
                       "The remote client is left as it is.")
            log.warning("%s/%s: %s", view.namespace, view.name, message)
            self._event(view, True, "DeletionSkipped", message)
            with contextlib.suppress(KubeConflict, KubeApiError):
                await self._write_status(view, status, False, reason, message, announce=False)
            self.forget(view.uid)
            return
        key = policy.tenant_key(spec.tenant_ref, view.namespace)
        connection = (self._gate.registry.cleanup_connection(key)
                      or await self._gate.registry.connection(key))
        try:
            if isinstance(connection, CredentialsProblem):
                raise CannotDelete(f"{key} cannot act: {connection.message}")
            await connection.identity.delete_client(tenant, client_id)
        except NotFound:
            pass  # client or tenant already gone: nothing left to delete
        except (Transient, OutcomeUnknown):
            raise
        except (IdentityError, CannotDelete) as exc:
            message = (f"Could not delete client {client_id!r} from tenant "
                       f"{tenant!r}: {exc}. Retrying; set "
                       "spec.deletionPolicy: Orphan to keep the remote client and let the "
                       "resource go.")
            with contextlib.suppress(KubeConflict):
                await self._write_status(view, status, False, Reason.DELETE_FAILED, message)
            raise
        assert not isinstance(connection, CredentialsProblem)
        connection.remote.forget(tenant, client_id)
        self._event(view, False, "Deleted",
                    f"Deleted client {client_id!r} from tenant {tenant!r}.")
        self.forget(view.uid)


    def _kept_at_deletion(self, uid: str, tenant: str,
                          client_id: str) -> tuple[Reason, str] | None:
        """Why deleting this resource must leave its remote client alone (None: it may go)."""
        if client_id in self._gate.registry.reserved_ids():
            return Reason.CLIENT_ID_RESERVED, "the operator authenticates with it"
        if not self._gate.owns(uid, tenant, client_id):
            return Reason.CLIENT_ID_TAKEN, "another ClientCredentialClient manages it"
        return None


class CannotDelete(Exception):
    """The remote client cannot be deleted now (its tenant object is gone or has no usable
    credentials); retried like an identity failure."""


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
