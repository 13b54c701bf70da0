"""kopf registrations only. Each handler turns kopf's arguments into a call of the runtime.

- raw watch events on the resource keep the runtime's copy and queue its key (workers.py);
- raw watch events on managed Secrets keep the controller's copies and queue their owner;
- raw watch events on tenant objects and namespaces feed the tenant registry, whose
  listeners queue the resources a change concerns.
Only event handlers: no daemons (a task per object), no change handlers (kopf's bookkeeping
annotations), no deletion handler (kopf would add and remove its finalizer itself, on every
replica, standbys included). The finalizer is ours, handled by the workers like any change.
"""

from __future__ import annotations

from typing import Any, cast

import kopf

from ..api.tenants import CLUSTER_KIND, CLUSTER_PLURAL, NAMESPACED_KIND, NAMESPACED_PLURAL
from ..gate import Gate
from ..resource import GROUP, MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNER_UID_LABEL, PLURAL, VERSION
from .workers import Runtime

RESOURCE = (GROUP, VERSION, PLURAL)


def _runtime(memo: Any) -> Runtime:
    runtime = memo.get("runtime")
    if not isinstance(runtime, Runtime):
        raise kopf.PermanentError("operator runtime is not initialised")
    return runtime


def _gate(memo: Any) -> Gate:
    gate = memo.get("gate")
    if not isinstance(gate, Gate):
        raise kopf.PermanentError("operator gate is not initialised")
    return gate


@kopf.on.event(*RESOURCE)
async def resource_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    uid = body.get("metadata", {}).get("uid", "")
    if type == "DELETED":
        _gate(memo).resource_gone(uid)
        _runtime(memo).gone(uid)
        return
    # Which tenant it names and which client id its status records (gate, ownership).
    _gate(memo).observe_resource(cast(dict[str, Any], body))
    _runtime(memo).observe(body)


@kopf.on.event("v1", "secrets", labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})
async def secret_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    runtime = _runtime(memo)
    # Keep the controller's copy of every managed Secret (SecretCache). Type None is kopf's
    # initial listing: after a restart that is where the copies come from.
    # (Not a kopf index, for its promise that handlers wait for the listing: kopf keeps that
    # promise with one toggle per object and wakes every waiter on each one, quadratic in
    # the objects: a restart over 10,000 resources did not finish verifying in 7 minutes.)
    if type == "DELETED":
        runtime.controller.secret_gone(body)
    else:
        runtime.controller.secret_seen(body)
    owner_uid = (body.get("metadata", {}).get("labels") or {}).get(OWNER_UID_LABEL)
    if owner_uid is None:
        return
    version = body.get("metadata", {}).get("resourceVersion")
    # ADDED (and a listing, type None) does not wake: at start-up every Secret arrives so, and
    # the passes verify them anyway (from the copy just kept); waking them all would trade the
    # per-tenant list for one GET per resource.
    if type == "DELETED" or (
        type == "MODIFIED" and not runtime.controller.wrote_secret_version(owner_uid, version)
    ):
        runtime.poke(owner_uid)


@kopf.on.event(GROUP, VERSION, CLUSTER_PLURAL)
async def cluster_tenant_event(body: kopf.Body, type: str | None, memo: kopf.Memo,
                               **_: Any) -> None:
    _tenant_event(memo, CLUSTER_KIND, body, type)


@kopf.on.event(GROUP, VERSION, NAMESPACED_PLURAL)
async def tenant_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    _tenant_event(memo, NAMESPACED_KIND, body, type)


def _tenant_event(memo: Any, kind: str, body: kopf.Body, type: str | None) -> None:
    registry = _gate(memo).registry
    if type == "DELETED":
        registry.tenant_gone(kind, cast(dict[str, Any], body))
    else:
        registry.observe_tenant(kind, cast(dict[str, Any], body))


@kopf.on.event("v1", "namespaces")
async def namespace_event(body: kopf.Body, type: str | None, memo: kopf.Memo,
                          **_: Any) -> None:
    # Labels decide which ClusterIdentityTenants a namespace may use.
    registry = _gate(memo).registry
    if type == "DELETED":
        registry.namespace_gone(cast(dict[str, Any], body))
    else:
        registry.observe_namespace(cast(dict[str, Any], body))
