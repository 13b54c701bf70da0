"""The pass, in its order: gate -> observe -> decide -> act -> write status.

One instance serves the whole operator; it knows nothing of kopf or of the workers that call
it. Each step has a room of its own: the gate (gate.py: policy, before any identity call),
observing (observe.py), the decision (reconcile/plan.py, pure), acting on the identity service
and the Secret (act.py, credentials.py), status and events (status.py), and deletion
(finalize.py). This file is the order between them and what each failure means.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import metrics
from .. import reconcile as rc
from ..api.clients import ROTATE_ANNOTATION, ClientSpec, ClientStatus
from ..api.conditions import Reason
from ..api.marks import Cluster
from ..identity import (
    ApiVersion,
    ClientNotFound,
    IdentityError,
    OutcomeUnknown,
    Transient,
    Unauthorized,
)
from ..kube.api import KubeApi, KubeApiError, KubeConflict
from ..kube.secret_cache import SecretCache
from ..reconcile import policy
from ..tenants.credentials import CredentialsProblem
from . import preview
from .act import Actor, ClientExists
from .finalize import Finalizer
from .gate import Admitted, Gate
from .observe import Observer
from .queue import RateLimiter
from .status import StatusWriter
from .view import Cause, EventSink, Outcome, ResourceView

log = logging.getLogger("ccoperator.controller")

# A tenant object applied together with its clients may reach the watch after them: a missing
# one is reported only once this long has passed since the resource was created (or since
# this process started).
SETTLE_PERIOD = timedelta(seconds=10)
# Identity errors that are retried with backoff; every other one is reported as permanent.
RETRYABLE = (Transient, OutcomeUnknown, Unauthorized)


class Controller:
    def __init__(
        self,
        *,
        gate: Gate,
        kube: KubeApi,
        events: EventSink,
        grace_period: timedelta,
        resync: timedelta,
        cluster: Cluster,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._cluster = cluster
        self._gate = gate
        self._grace = grace_period
        self._resync = resync
        self._clock = clock
        self._started = clock()
        self._status = StatusWriter(kube, events, clock)
        self._observer = Observer(kube, self._status)
        self._actor = Actor(gate=gate, kube=kube, observer=self._observer, status=self._status,
                            grace_period=grace_period)
        self._finalizer = Finalizer(gate, self._status, self.forget, cluster)
        # Per-resource backoff, shared with the work queue (which also uses it for failures
        # the reconcile does not handle itself).
        self.backoff: RateLimiter[str] = RateLimiter()

    def forget(self, uid: str) -> None:
        self._status.forget(uid)
        self._observer.forget(uid)
        self._actor.forget(uid)
        self.backoff.forget(uid)

    def reset(self) -> None:
        """Forget what this process wrote (a new term as leader: another leader may have
        written since), keeping the watch's copies of managed Secrets."""
        self._status.reset()
        self._observer.reset()
        self.backoff.clear()

    # ------------------------------------------------------- what the streams and workers use

    @property
    def secrets(self) -> SecretCache:
        """The watches' copies of Secrets (streams.py fills them)."""
        return self._observer.secrets

    def secret_seen(self, body: Mapping[str, Any]) -> None:
        self._observer.secret_seen(body)

    def secret_gone(self, body: Mapping[str, Any]) -> set[str]:
        """A managed Secret was deleted; returns the resources waiting for its name."""
        return self._observer.secret_gone(body)

    def wrote_secret_version(self, uid: str, resource_version: str | None) -> bool:
        return self._observer.wrote_secret_version(uid, resource_version)

    async def prefetch_secret(self, view: ResourceView) -> None:
        await self._observer.prefetch_secret(view)

    def drop_prefetched(self, uid: str) -> None:
        self._observer.drop_prefetched(uid)

    async def finalize(self, view: ResourceView) -> None:
        """Delete the remote client (Delete policy). Raises to be retried; never drops it."""
        await self._finalizer.finalize(view)

    # ---------------------------------------------------------------------------- the pass

    async def reconcile(self, view: ResourceView, cause: Cause) -> Outcome:
        if view.deleting or self._finalizer.finalized(view.uid):
            # Never act on a resource being deleted: a pass after the finalizer removed the
            # remote client would find it missing and create it again, orphaned.
            return Outcome(self._resync, ready=False)
        status = self._status.current(view)
        try:
            spec = ClientSpec.model_validate(view.spec)
        except ValueError as exc:
            # The CRD schema admits only valid specs; this guards against an older CRD.
            await self._status.write(view, status, False, Reason.INVALID_SPEC,
                                     f"spec is invalid: {_first_line(exc)}")
            return Outcome(self._resync, ready=False)
        try:
            outcome = await self._gated(view, spec, status, cause)
        except (Transient, OutcomeUnknown) as exc:
            # The service may have said when to come back (429/503 Retry-After): never sooner.
            delay = self._retry_in(view.uid, exc.retry_after if isinstance(exc, Transient)
                                   else None)
            await self._status.degrade(view, Reason.IDENTITY_UNAVAILABLE,
                                       f"The identity service did not answer reliably ({exc}); "
                                       f"retrying in {delay.total_seconds():.0f}s.")
            return Outcome(delay, ready=False)
        except Unauthorized as exc:
            delay = self._retry_in(view.uid)
            await self._status.degrade(
                view, Reason.UNAUTHORIZED,
                "The identity service rejected the credentials of the tenant object "
                f"{spec.tenant_ref.kind} {spec.tenant_ref.name!r} ({exc}); check its "
                "credentials Secret (or the operator's CCOPERATOR_CLIENT_ID/_SECRET when it "
                "names none).")
            return Outcome(delay, ready=False)
        except KubeConflict as exc:
            log.info("%s/%s: %s; reconciling again", view.namespace, view.name, exc)
            return Outcome(self._retry_in(view.uid), ready=False)
        except KubeApiError as exc:
            # An error status or no answer at all (API server restarting, timeout): usually
            # brief, so back off and retry. str(exc) names the call and status, never a body.
            delay = self._retry_in(view.uid)
            await self._status.degrade(view, Reason.KUBERNETES_ERROR,
                                       f"A Kubernetes API call failed ({exc}); "
                                       f"retrying in {delay.total_seconds():.0f}s.")
            return Outcome(delay, ready=False)
        self.backoff.forget(view.uid)
        return outcome

    async def preview(self, view: ResourceView) -> preview.Preview:
        """What a pass would do now, without doing it (`ccoperator plan`): the same gate,
        the reads of a change pass and the same decision. The caller's clients refuse every
        write; a create of a derived id is told from a reclaim by reading the id first."""
        status = self._status.current(view)
        try:
            spec = ClientSpec.model_validate(view.spec)
        except ValueError as exc:
            return preview.refused(Reason.INVALID_SPEC.value,
                                   f"spec is invalid: {_first_line(exc)}")
        admitted = await self._gate.admit(
            uid=view.uid, namespace=view.namespace, spec=spec, status=status,
            owner_key=self._cluster.key(view.namespace, view.name))
        if isinstance(admitted, policy.Denial):
            return preview.refused(admitted.reason.value, admitted.message)
        if isinstance(admitted, CredentialsProblem):
            return preview.refused(Reason.UNAUTHORIZED.value, admitted.message)
        ctx = await self._context(admitted)
        observed = await self._observe(view, spec, status, Cause.CHANGE, admitted, ctx)
        plan = rc.decide(observed, ctx)
        if _needs_mark(observed, plan) or (plan.create and not observed.remote_observed):
            observed = await self._learn_mark(observed, admitted, ctx, fresh=True)
            plan = rc.decide(observed, ctx)
        return preview.describe(observed, plan)

    async def _gated(self, view: ResourceView, spec: ClientSpec, status: ClientStatus,
                     cause: Cause) -> Outcome:
        """1. The gate: policy first, so a refused pass makes no identity call at all."""
        admitted = await self._gate.admit(uid=view.uid, namespace=view.namespace, spec=spec,
                                          status=status,
                                          owner_key=self._cluster.key(view.namespace, view.name))
        if isinstance(admitted, policy.Denial):
            return await self._refused(view, status, admitted)
        if isinstance(admitted, CredentialsProblem):
            delay = self._retry_in(view.uid)
            await self._status.degrade(view, Reason.UNAUTHORIZED,
                                       f"The tenant object {spec.tenant_ref.kind} "
                                       f"{spec.tenant_ref.name!r} has no usable credentials: "
                                       f"{admitted.message}")
            return Outcome(delay, ready=False)
        try:
            return await self._admitted(view, spec, status, cause, admitted)
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
        await self._status.write(view, status, False, denial.reason, denial.message)
        return Outcome(self._resync, ready=False)

    async def _admitted(self, view: ResourceView, spec: ClientSpec, status: ClientStatus,
                        cause: Cause, admitted: Admitted) -> Outcome:
        """2. Observe, 3. decide, 4. act (act.py writes status at the end)."""
        ctx = await self._context(admitted)
        self._status.lifetimes[view.uid] = admitted.default_lifetime
        try:
            observed = await self._observe(view, spec, status, cause, admitted, ctx)
            plan = rc.decide(observed, ctx)
            if _needs_mark(observed, plan):
                # About to write to a client we hold: first make sure it is still ours.
                observed = await self._learn_mark(observed, admitted, ctx)
                plan = rc.decide(observed, ctx)
        except RETRYABLE:
            raise  # reconcile() backs off; a working client stays Ready meanwhile
        except IdentityError as exc:
            return await self._permanent(view, status, admitted.tenant_id, exc)
        try:
            return await self._act(view, status, observed, plan, ctx, admitted)
        except RETRYABLE:
            raise
        except IdentityError as exc:
            return await self._permanent(view, self._status.current(view), admitted.tenant_id,
                                         exc)

    async def _act(self, view: ResourceView, status: ClientStatus, observed: rc.Observed,
                   plan: rc.Plan, ctx: rc.Context, admitted: Admitted) -> Outcome:
        """4. Act, deciding once more where acting found the client other than observed."""
        if plan.blocked is not None:
            return await self._blocked(view, status, plan)
        if plan.observe is not None:
            return await self._observed(view, status, plan, admitted)
        try:
            return await self._actor.execute(observed, plan, ctx, admitted)
        except ClientNotFound:
            if not observed.remote_assumed:
                raise
            # The PUT of a spec change found no client: gone remotely; decide on that.
            observed = dataclasses.replace(observed, remote_observed=True, remote=None,
                                           remote_assumed=False)
        except ClientExists:
            # Our derived id was there already (an earlier life of this cluster): read it.
            observed = await self._learn_mark(observed, admitted, ctx, fresh=True)
        plan = rc.decide(observed, ctx)
        if plan.blocked is not None:
            return await self._blocked(view, status, plan)
        return await self._actor.execute(observed, plan, ctx, admitted)

    async def _context(self, admitted: Admitted) -> rc.Context:
        connection = admitted.connection
        return rc.Context(
            identity_url=connection.identity_url,
            token_url=await connection.identity.discover_token_url(),
            default_lifetime=admitted.default_lifetime,
            grace_period=self._grace,
            resync=self._resync,
            tagged=connection.identity.api_version is ApiVersion.V1,
        )

    async def _observe(self, view: ResourceView, spec: ClientSpec, status: ClientStatus,
                       cause: Cause, admitted: Admitted, ctx: rc.Context) -> rc.Observed:
        remote_observed, remote = await self._observer.remote(admitted, spec, status, view,
                                                              cause)
        secret = await self._observer.secret(view, spec, cause, status)
        mark, mark_known, issuer = None, remote_observed and remote is None, None
        secrets = None
        if remote_observed and remote is not None:
            if status.client_id is None or (spec.observe_only and (
                    cause is Cause.CHANGE or status.observed is None)):
                # A client found without our record: whose is it, and did this resource
                # issue its newest secret (a lost answer) or an earlier life of it? (An
                # Observe resource reads its secrets on every change, for status.observed.)
                read = await self._observer.read_secrets(admitted, remote.client_id)
                mark, issuer, mark_known, secrets = read.mark, read.issuer, True, read.secrets
            if ctx.tagged:
                mark, mark_known = remote.mark, True
        return rc.Observed(
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
            owner_key=self._cluster.key(view.namespace, view.name),
            own_aliases=self._cluster.aliases(view.namespace, view.name, view.uid),
            mark=mark,
            mark_known=mark_known,
            mark_issuer=issuer,
            remote_secrets=secrets,
        )

    async def _learn_mark(self, o: rc.Observed, admitted: Admitted, ctx: rc.Context, *,
                          fresh: bool = False) -> rc.Observed:
        """Read whose the client is: on v1 the client itself (its tags), on the unversioned
        form its secrets' descriptions (and the client, when `fresh`: not read yet)."""
        remote = o.remote
        if ctx.tagged or fresh or remote is None:
            # v1: the tags are on the client; and a client decided on without any copy of it
            # (a spec change before any read) is read, never taken for gone.
            remote = await admitted.connection.remote.get(o.tenant_id, admitted.client_id)
        if remote is None:
            return dataclasses.replace(o, remote_observed=True, remote=None,
                                       remote_assumed=False, mark=None, mark_known=True)
        mark, issuer = remote.mark, None
        if fresh or not ctx.tagged:
            read = await self._observer.read_secrets(admitted, remote.client_id)
            mark, issuer = remote.mark if ctx.tagged else read.mark, read.issuer
        return dataclasses.replace(o, remote_observed=True, remote=remote,
                                   remote_assumed=False, mark=mark, mark_known=True,
                                   mark_issuer=issuer)

    async def _blocked(self, view: ResourceView, status: ClientStatus,
                       plan: rc.Plan) -> Outcome:
        assert plan.blocked is not None
        if status.client_id is None:
            self._gate.claims.release(view.uid)  # never recorded: let others have the id
        if plan.blocked.reason is Reason.SECRET_CONFLICT:
            # Someone else's Secret holds the name: its deletion (a watch event) wakes us.
            self._observer.secrets.wait_for(view.namespace, plan.secret_name, view.uid)
        await self._status.write(view, status, False, plan.blocked.reason, plan.blocked.message)
        return Outcome(self._resync, ready=False)

    async def _observed(self, view: ResourceView, status: ClientStatus, plan: rc.Plan,
                        admitted: Admitted) -> Outcome:
        """managementPolicy: Observe: only the status says what was read."""
        drift = f"{len(plan.drift)} field(s) differ from the spec (status.drift)" if (
            plan.drift) else "it matches the spec"
        await self._status.write(
            view, status.model_copy(update={
                "tenant_id": admitted.tenant_id, "observed": plan.observe,
                "drift": plan.drift, "drift_count": len(plan.drift)}),
            True, Reason.OBSERVED,
            f"Client {plan.client_id!r} exists in tenant {admitted.tenant_id!r} and is "
            f"observed, never written (managementPolicy: Observe); {drift}.")
        return Outcome(self._resync, ready=True)

    async def _permanent(self, view: ResourceView, status: ClientStatus, tenant: str,
                         exc: IdentityError) -> Outcome:
        await self._status.permanent(view, status, tenant, exc)
        return Outcome(self._resync, ready=False)

    def _settling(self, view: ResourceView) -> timedelta | None:
        """The rest of SETTLE_PERIOD after the resource was created or this process started,
        whichever is later (None: over)."""
        since = max(self._started, view.created or self._started)
        left = since + SETTLE_PERIOD - self._clock()
        return left if left > timedelta(0) else None

    def _retry_in(self, uid: str, retry_after: float | None = None) -> timedelta:
        return timedelta(seconds=self.backoff.next_delay(uid, retry_after))


def _needs_mark(o: rc.Observed, plan: rc.Plan) -> bool:
    """A plan that writes to a client this resource holds, decided without knowing the
    client's mark (the unversioned form shows it only in its secrets; a spec change on v1 is
    decided without a read): the mark is read first, so that a client handed over to
    another declaration is never written to."""
    return (o.status.client_id is not None and not o.mark_known and plan.blocked is None
            and plan.touches_identity and not plan.create)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
