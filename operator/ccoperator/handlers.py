"""kopf registrations only. Each handler turns kopf's arguments into a call of the runtime.

- a daemon per ClientCredentialClient runs its reconcile loop (runtime.py);
- raw watch events on the resource and on managed Secrets wake that loop;
- the deletion handler (which makes kopf keep the finalizer) deletes the remote client;
- raw watch events on tenant objects and namespaces feed the tenant registry, whose
  listeners wake the resources a change concerns.
No kopf change handlers (on.create/on.update) are used: they would write kopf's own
bookkeeping annotations on every change, and the loop already reacts to every change.
"""

from __future__ import annotations

from typing import Any, cast

import kopf

from .api.tenants import CLUSTER_KIND, CLUSTER_PLURAL, NAMESPACED_KIND, NAMESPACED_PLURAL
from .controller import CannotDelete, ResourceView
from .gate import Gate
from .identity import IdentityError
from .resource import (
    API_VERSION,
    GROUP,
    KIND,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    OWNER_UID_LABEL,
    PLURAL,
    ROTATE_ANNOTATION,
    VERSION,
)
from .runtime import Runtime

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


def view_of(body: kopf.Body) -> ResourceView:
    meta = body.get("metadata", {})
    return ResourceView(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        annotations=dict(meta.get("annotations") or {}),
        deleting=meta.get("deletionTimestamp") is not None,
    )


def post_event(view: ResourceView, *, warning: bool, reason: str, message: str) -> None:
    """Post a Kubernetes Event on the resource (never with secret values: callers ensure)."""
    ref = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": view.name, "namespace": view.namespace, "uid": view.uid},
    }
    # kopf reads only apiVersion, kind and metadata of the object it reports on.
    kopf.event(cast(kopf.Body, ref), type="Warning" if warning else "Normal", reason=reason,
               message=message)


@kopf.daemon(*RESOURCE, cancellation_timeout=60.0)
async def reconcile_loop(body: kopf.Body, stopped: kopf.DaemonStopped, memo: kopf.Memo,
                         **_: Any) -> None:
    async def wait_stopped(seconds: float) -> bool:
        await stopped.wait(seconds)
        return stopped.is_set()

    await _runtime(memo).run_object(
        lambda: view_of(body), lambda v: v.annotations.get(ROTATE_ANNOTATION), wait_stopped
    )


@kopf.on.event(*RESOURCE)
async def resource_event(body: kopf.Body, type: str | None, memo: kopf.Memo, **_: Any) -> None:
    meta = body.get("metadata", {})
    if type == "DELETED":
        _gate(memo).resource_gone(meta.get("uid", ""))
        return
    # Which tenant it names and which client id its status records (gate, ownership).
    _gate(memo).observe_resource(cast(dict[str, Any], body))
    if type in ("ADDED", "MODIFIED"):
        # Only the fields that decide whether to wake the loop: this runs for every event,
        # including our own status writes, and a whole view copies spec and status.
        _runtime(memo).resource_changed(
            meta.get("uid", ""), int(meta.get("generation") or 0),
            (meta.get("annotations") or {}).get(ROTATE_ANNOTATION),
        )


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
    # the loops verify them anyway (from the copy just kept); waking them all would trade the
    # per-tenant list for one GET per resource.
    if type == "DELETED" or (
        type == "MODIFIED" and not runtime.controller.wrote_secret_version(owner_uid, version)
    ):
        runtime.poke(owner_uid)


@kopf.on.delete(*RESOURCE)
async def cleanup(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    try:
        await _runtime(memo).finalize(view_of(body))
    except (IdentityError, CannotDelete) as exc:
        # Never dropped: kopf keeps the finalizer and calls again after the delay.
        raise kopf.TemporaryError(f"deleting the remote client failed: {exc}",
                                  delay=min(300.0, 5.0 * 2 ** min(retry, 6))) from None


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
