"""What a pass says: the resource's status (Ready and Stalled, as a merge patch of what
changed), the warning event of each new failure reason, and the per-resource metrics.

The operator is the only writer of status, so what this process wrote last is newer than any
watch event that has not caught up with it yet: `current` prefers it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from .. import metrics
from .. import reconcile as rc
from ..api.clients import ClientStatus
from ..api.conditions import READY, STALLED, Reason, ready_condition, stalled_condition
from ..identity import Forbidden, IdentityError, InvalidInput, MemberRoleRequired, TenantNotFound
from ..kube.api import KubeApi, status_merge_patch
from .view import EventSink, ResourceView

log = logging.getLogger("ccoperator.controller")


class StatusWriter:
    def __init__(self, kube: KubeApi, events: EventSink,
                 clock: Callable[[], datetime]) -> None:
        self._kube = kube
        self._events = events
        self._clock = clock
        self._written: dict[str, ClientStatus] = {}
        # The secret lifetime each resource's tenant grants when its spec sets none (metrics).
        self.lifetimes: dict[str, timedelta | None] = {}

    def forget(self, uid: str) -> None:
        metrics.forget_resource(uid)
        self._written.pop(uid, None)
        self.lifetimes.pop(uid, None)

    def reset(self) -> None:
        """Forget what this process wrote (a new term: another leader may have written since)."""
        self._written.clear()

    def current(self, view: ResourceView) -> ClientStatus:
        """The status as the API server has it: what we wrote last, else the watch's copy."""
        return self._written.get(view.uid) or ClientStatus.from_body(view.status)

    def _persisted(self, o: rc.Observed | ResourceView) -> ClientStatus:
        if isinstance(o, ResourceView):
            return self.current(o)
        return self._written.get(o.uid) or o.status

    async def write(
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
                self.event(o, True, reason.value, message)
        self._written[o.uid] = new
        self.observe_metrics(o, new)
        return new

    def observe_metrics(self, o: rc.Observed | ResourceView, status: ClientStatus) -> None:
        """The resource's Ready reason and secret dates as this process last knew them."""
        metrics.observe_resource(o.uid, o.namespace, o.name, status, o.spec,
                                 self.lifetimes.get(o.uid))

    async def degrade(self, view: ResourceView, reason: Reason, message: str) -> None:
        """A retryable failure. A client that works stays Ready: its credentials still do."""
        status = self.current(view)
        ready = status.condition(READY)
        log.warning("%s/%s: %s: %s", view.namespace, view.name, reason.value, message)
        if ready is not None and ready.status == "True":
            self.observe_metrics(view, status)
            return
        try:
            await self.write(view, status, False, reason, message)
        except Exception:
            log.exception("%s/%s: could not write status", view.namespace, view.name)

    async def permanent(self, view: ResourceView, status: ClientStatus, tenant: str,
                        exc: IdentityError) -> None:
        """An identity error no retry will fix: the reason that says what to change."""
        reason, message = _explain(tenant, exc)
        await self.write(view, status, False, reason, message)

    def event(self, o: rc.Observed | ResourceView, warning: bool, reason: str,
              message: str) -> None:
        view = o if isinstance(o, ResourceView) else ResourceView(
            name=o.name, namespace=o.namespace, uid=o.uid, generation=o.generation,
            spec={}, status={}, annotations={})
        self._events(view, warning=warning, reason=reason, message=message)


def _explain(tenant: str, exc: IdentityError) -> tuple[Reason, str]:
    if isinstance(exc, TenantNotFound):
        return Reason.TENANT_NOT_FOUND, (
            f"Tenant {tenant!r} does not exist in the identity service. Fix the tenant "
            "object's spec.tenantId (immutable: recreate it).")
    if isinstance(exc, Forbidden):
        return Reason.FORBIDDEN, (
            f"The tenant object's client may not manage clients in tenant {tenant!r} "
            f"({exc}). Grant it the Account Administrator role there.")
    if isinstance(exc, MemberRoleRequired):
        return Reason.INVALID_SPEC, (
            f"The identity service rejected the roles: {exc}. In the v1 API form every "
            "client must hold its tenant's Member role: add that role id to spec.roleIds "
            "(and to the tenant object's allowedRoleIds).")
    if isinstance(exc, InvalidInput):
        return Reason.INVALID_SPEC, (
            f"The identity service rejected the spec: {exc}. Fix the spec "
            "(for example: spec.roleIds must be role ids of this tenant).")
    return Reason.IDENTITY_UNAVAILABLE, f"Unexpected answer from the identity service: {exc}."
