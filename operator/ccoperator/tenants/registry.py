"""Tenant objects and namespaces as the watches show them, and what each tenant acts with.

Filled at start-up by one LIST of each (so the first passes see every tenant object and
namespace label), then kept by watch events. Lookups never call the API server except to
read a namespace the watch has not shown yet, or a tenant's credentials Secret.

Listeners hear of every change that can alter a policy decision (a tenant's spec, its
credentials, a namespace's labels), so the resources concerned are re-evaluated at once
instead of at their next resync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..api.clients import GROUP, VERSION
from ..api.conditions import TenantReason
from ..api.tenants import (
    CLUSTER_KIND,
    CLUSTER_PLURAL,
    NAMESPACED_KIND,
    NAMESPACED_PLURAL,
    TenantKey,
    TenantObject,
    TenantSpec,
    key_of,
)
from ..kube.api import KubeApi
from ..kube.http import segment
from . import credentials as creds
from .connections import Connection, ConnectionPool

log = logging.getLogger("ccoperator.tenants")


@dataclass
class _State:
    obj: TenantObject
    status: dict[str, Any] = field(default_factory=dict)  # as the watch last showed it
    loaded: creds.Credentials | creds.CredentialsProblem | None = None
    stale: bool = False  # the spec changed since `loaded` was read: read again before use
    # The client id these credentials proved (obtained a token with) while this object
    # existed: a rotated secret of the same client keeps the reservation.
    proved_id: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def tenant_object(kind: str, body: dict[str, Any]) -> TenantObject:
    meta = body.get("metadata") or {}
    try:
        spec: TenantSpec | None = TenantSpec.model_validate(dict(body.get("spec") or {}))
        error = None
    except ValidationError as exc:
        spec, error = None, str(exc).splitlines()[0]
    return TenantObject(key=key_of(kind, body), uid=str(meta.get("uid") or ""),
                        generation=int(meta.get("generation") or 0), spec=spec,
                        spec_error=error)


class TenantRegistry:
    def __init__(
        self,
        kube: KubeApi,
        pool: ConnectionPool,
        *,
        default_url: str | None,
        own: creds.OwnCredentials,
        operator_namespace: str | None,
    ) -> None:
        self._kube = kube
        self._pool = pool
        self._default_url = default_url
        self._own = own
        self._operator_namespace = operator_namespace
        self._tenants: dict[TenantKey, _State] = {}
        self._namespaces: dict[str, dict[str, str]] = {}
        self._gone: dict[TenantKey, creds.Credentials] = {}  # deleted; still cleaning up
        self.tenant_listeners: list[Callable[[TenantKey], None]] = []
        self.namespace_listeners: list[Callable[[str], None]] = []
        # Told of the client ids that became reserved or stopped being reserved.
        self.reservation_listeners: list[Callable[[frozenset[str]], None]] = []
        self._reserved: frozenset[str] = frozenset()
        pool.proved_listeners.append(self.check_reservations)

    # ------------------------------------------------------------------------ start and watch

    async def prime(self, namespaces: Iterable[str]) -> None:
        """One LIST of each kind (per watched namespace for IdentityTenant), and credentials."""
        base = f"/apis/{GROUP}/{VERSION}"
        for body in await self._kube.list_objects(f"{base}/{CLUSTER_PLURAL}"):
            self.observe_tenant(CLUSTER_KIND, body)
        scopes = list(namespaces)
        paths = ([f"{base}/namespaces/{segment(ns)}/{NAMESPACED_PLURAL}" for ns in scopes]
                 if scopes else [f"{base}/{NAMESPACED_PLURAL}"])
        for path in paths:
            for body in await self._kube.list_objects(path):
                self.observe_tenant(NAMESPACED_KIND, body)
        for body in await self._kube.list_objects("/api/v1/namespaces"):
            self.observe_namespace(body)
        # Credentials now: the ids they hold are reserved before any resource is reconciled.
        await asyncio.gather(*(self.refresh_credentials(k) for k in list(self._tenants)),
                             return_exceptions=True)

    def observe_tenant(self, kind: str, body: dict[str, Any]) -> None:
        obj = tenant_object(kind, body)
        state = self._tenants.get(obj.key)
        status = dict(body.get("status") or {})
        if state is not None and state.obj.uid == obj.uid and (
                state.obj.generation == obj.generation):
            state.status = status
            return  # a status write (ours): nothing a decision reads has changed
        if state is None or state.obj.uid != obj.uid:
            if state is not None:
                self._pool.release(obj.key)
            self._tenants[obj.key] = _State(obj, status)
        else:
            state.obj, state.status = obj, status
            # The credentials reference may have changed: read again before the next use,
            # and keep reserving what the old ones held until then.
            state.stale = True
        self._notify_tenant(obj.key)

    def tenant_gone(self, kind: str, body: dict[str, Any]) -> None:
        key = key_of(kind, body)
        state = self._tenants.pop(key, None)
        if state is None:
            return
        if isinstance(state.loaded, creds.Credentials):
            # Resources that named it may still be deleted after it (a namespace being
            # deleted takes its IdentityTenant and its clients at once): they clean up with
            # the credentials it had. Nothing else uses a gone tenant. forget_gone ends it.
            self._gone[key] = state.loaded
        else:
            self._pool.release(key)
        self._notify_tenant(key)
        self.check_reservations()

    def forget_gone(self, key: TenantKey) -> None:
        """No resource names this deleted tenant object any more: close what it held."""
        if self._gone.pop(key, None) is not None and key not in self._tenants:
            self._pool.release(key)

    def observe_namespace(self, body: dict[str, Any]) -> None:
        meta = body.get("metadata") or {}
        name = str(meta.get("name") or "")
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        if self._namespaces.get(name) != labels:
            self._namespaces[name] = labels
            for listener in self.namespace_listeners:
                listener(name)

    def namespace_gone(self, body: dict[str, Any]) -> None:
        self._namespaces.pop(str((body.get("metadata") or {}).get("name") or ""), None)

    def _notify_tenant(self, key: TenantKey) -> None:
        for listener in self.tenant_listeners:
            listener(key)

    # -------------------------------------------------------------------------------- lookups

    def get(self, key: TenantKey) -> TenantObject | None:
        state = self._tenants.get(key)
        return state.obj if state is not None else None

    def status_of(self, key: TenantKey) -> dict[str, Any]:
        state = self._tenants.get(key)
        return state.status if state is not None else {}

    def tenant_keys(self) -> list[TenantKey]:
        return list(self._tenants)

    async def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        labels = self._namespaces.get(namespace)
        if labels is None:
            body = await self._kube.get_object(f"/api/v1/namespaces/{segment(namespace)}")
            if body is None:
                return None
            self.observe_namespace(body)
            labels = self._namespaces.get(namespace)
        return labels

    def reserved_ids(self) -> frozenset[str]:
        """Client ids no resource may manage, because acting on them could break the
        operator's own access or hand its power to a namespace: the operator's own, every
        ClusterIdentityTenant's (its Secret lives in the operator's namespace), and an
        IdentityTenant's once its credentials proved themselves by obtaining a token.
        Unproved, a namespace's credentials could name anybody's client: they reserve
        nothing (ARCHITECTURE rule 4)."""
        ids = {state.loaded.client_id for key, state in self._tenants.items()
               if isinstance(state.loaded, creds.Credentials)
               and (key.kind == CLUSTER_KIND or self._proved(key, state))}
        own = self._own()
        if own is not None:
            ids.add(own.client_id)
        return frozenset(ids)

    def _proved(self, key: TenantKey, state: _State) -> bool:
        loaded = state.loaded
        assert isinstance(loaded, creds.Credentials)
        if state.proved_id != loaded.client_id:
            connection = self._pool.of(key)
            if connection is None or not connection.proved:
                return False
            state.proved_id = loaded.client_id
        return True

    def check_reservations(self) -> None:
        """Tell the listeners which client ids became, or stopped being, reserved: the
        resources that use them are re-evaluated at once. Called wherever the answer can
        change (credentials read, a tenant object gone, credentials proved, each check)."""
        now = self.reserved_ids()
        changed = now ^ self._reserved
        self._reserved = now
        if changed:
            log.info("reserved client ids changed: %s", ", ".join(sorted(changed)))
            for listener in self.reservation_listeners:
                listener(changed)

    def cleanup_connection(self, key: TenantKey) -> Connection | None:
        """For deleting a remote client only: the connection of a tenant object deleted
        before the resources that named it (None when there is none)."""
        gone = self._gone.get(key)
        return self._pool.acquire(key, gone) if gone is not None else None

    async def connection(self, key: TenantKey) -> Connection | creds.CredentialsProblem:
        """The identity client to act in this tenant with (credentials loaded on first use)."""
        state = self._tenants.get(key)
        if state is None:
            return creds.CredentialsProblem(TenantReason.CREDENTIALS_NOT_FOUND,
                                            f"{key} does not exist.")
        if state.loaded is None or state.stale:
            await self.refresh_credentials(key)
        loaded = state.loaded
        if not isinstance(loaded, creds.Credentials):
            assert loaded is not None
            return loaded
        return self._pool.acquire(key, loaded)

    async def refresh_credentials(self, key: TenantKey) -> bool:
        """Read the tenant's credentials again; True when they changed (listeners are told)."""
        state = self._tenants.get(key)
        if state is None or state.obj.spec is None:
            return False
        async with state.lock:
            loaded = await creds.load(self._kube, key, state.obj.spec,
                                      default_url=self._default_url, own=self._own,
                                      operator_namespace=self._operator_namespace)
            if self._tenants.get(key) is not state:
                return False  # deleted or replaced while we read
            self._gone.pop(key, None)  # a tenant object of that name exists again
            changed = loaded != state.loaded
            previous, state.loaded, state.stale = state.loaded, loaded, False
            if isinstance(loaded, creds.Credentials):
                self._pool.acquire(key, loaded)
            else:
                self._pool.release(key)
        if changed and previous is not None:
            log.info("%s: credentials changed", key)
            self._notify_tenant(key)
        if changed:
            self.check_reservations()
        return changed
