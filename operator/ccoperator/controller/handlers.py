"""kopf registrations only. Each handler turns kopf's arguments into a call of the runtime.

Raw watch events on tenant objects and namespaces feed the tenant registry, whose listeners
queue the resources a change concerns. The resources and their managed Secrets, one of each
per resource, do not go through kopf at all (streams.py, kube/watch.py: kopf's per-object
machinery was half of a restart's CPU).
Only event handlers: no daemons (a task per object), no change handlers (kopf's bookkeeping
annotations), no deletion handler (kopf would add and remove its finalizer itself, on every
replica, standbys included). The finalizer is ours, handled by the workers like any change.
"""

from __future__ import annotations

from typing import Any, cast

import kopf

from ..api.clients import GROUP, VERSION
from ..api.tenants import CLUSTER_KIND, CLUSTER_PLURAL, NAMESPACED_KIND, NAMESPACED_PLURAL
from .gate import Gate


def _gate(memo: Any) -> Gate:
    gate = memo.get("gate")
    if not isinstance(gate, Gate):
        raise kopf.PermanentError("operator gate is not initialised")
    return gate


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
