"""The gate every pass goes through before any identity call: tenant, namespace, policy, owner.

It gathers what the pure rules of `reconcile/policy.py` need (the tenant object, the namespace's
labels, the reserved client ids, who holds the client id) and answers with an `Admitted`
(the tenant to act in and the identity client to act with) or a `Denial`. It also remembers
which resources name which tenant object and live in which namespace, so that a change to
either re-evaluates exactly those resources at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..api.clients import ClientSpec, ClientStatus
from ..api.conditions import Reason
from ..api.tenants import CLUSTER_KIND, TenantKey, TenantSpec, ref_key
from ..reconcile import policy
from ..reconcile.ownership import ClaimIndex
from ..tenants.connections import Connection
from ..tenants.credentials import CredentialsProblem
from ..tenants.registry import TenantRegistry


@dataclass(frozen=True)
class Admitted:
    key: TenantKey
    tenant_id: str
    client_id: str
    connection: Connection
    default_lifetime: timedelta | None


class Gate:
    def __init__(self, registry: TenantRegistry, claims: ClaimIndex, *,
                 default_lifetime: timedelta | None) -> None:
        self.registry = registry
        self.claims = claims
        self._default_lifetime = default_lifetime
        self._refs: dict[str, tuple[str, TenantKey]] = {}  # uid -> (namespace, tenant key)
        self._by_tenant: dict[TenantKey, set[str]] = {}
        # uid -> the client id its last pass asked for (recorded or derived): whom a change
        # of the reserved ids concerns.
        self._client_ids: dict[str, str] = {}
        self.poke: Callable[[str], None] = lambda uid: None
        registry.tenant_listeners.append(self._tenant_changed)
        registry.namespace_listeners.append(self._namespace_changed)
        registry.reservation_listeners.append(self._reservations_changed)
        claims.freed.append(lambda uid: self.poke(uid))

    # ------------------------------------------------------------------ what names what

    def observe_resource(self, body: Mapping[str, Any]) -> None:
        """A ClientCredentialClient as the watch (or the start-up LIST) shows it."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        namespace = str(meta.get("namespace") or "")
        raw = (body.get("spec") or {}).get("tenantRef") or {}
        if uid and raw.get("name"):
            # Every event comes here, our own status writes too: no model, only the key.
            self._track(uid, namespace, ref_key(str(raw.get("kind") or CLUSTER_KIND),
                                                str(raw["name"]), namespace))
        self.claims.observe_body(body)

    def resource_gone(self, uid: str) -> None:
        entry = self._refs.pop(uid, None)
        if entry is not None:
            users = self._by_tenant.get(entry[1], set())
            users.discard(uid)
            if not users:
                self.registry.forget_gone(entry[1])
        self._client_ids.pop(uid, None)
        self.claims.forget(uid)

    def _track(self, uid: str, namespace: str, key: TenantKey) -> None:
        old = self._refs.get(uid)
        if old == (namespace, key):
            return
        if old is not None:
            self._by_tenant.get(old[1], set()).discard(uid)
        self._refs[uid] = (namespace, key)
        self._by_tenant.setdefault(key, set()).add(uid)

    def _tenant_changed(self, key: TenantKey) -> None:
        for uid in list(self._by_tenant.get(key, ())):
            self.poke(uid)

    def _namespace_changed(self, namespace: str) -> None:
        for uid, (where, key) in list(self._refs.items()):
            if where == namespace and key.kind == CLUSTER_KIND:
                self.poke(uid)

    def _reservations_changed(self, client_ids: frozenset[str]) -> None:
        # Rare (credentials appear, change, prove themselves or go): one scan is fine.
        for uid, client_id in list(self._client_ids.items()):
            if client_id in client_ids:
                self.poke(uid)

    # ------------------------------------------------------------------------- the checks

    async def admit(self, *, uid: str, namespace: str, spec: ClientSpec, status: ClientStatus,
                    owner_key: str) -> Admitted | policy.Denial | CredentialsProblem:
        key = policy.tenant_key(spec.tenant_ref, namespace)
        self._track(uid, namespace, key)
        resolved = await self._resolve(key, namespace, spec)
        if isinstance(resolved, policy.Denial):
            return self._refuse(uid, resolved)
        if status.tenant_id is not None and status.client_id is not None and (
                status.tenant_id != resolved.tenant_id):
            return self._refuse(uid, policy.Denial(
                Reason.TENANT_REF_NOT_FOUND,
                f"{key} now names tenant {resolved.tenant_id!r}, but this resource's client "
                f"lives in tenant {status.tenant_id!r}. Restore the tenant object's tenantId."))
        client_id = status.client_id or spec.desired_client_id(owner_key)
        self._client_ids[uid] = client_id
        denial = policy.reserved(client_id, self.registry.reserved_ids())
        if denial is not None:
            return self._refuse(uid, denial)
        grant = policy.check(spec, resolved, key, self._default_lifetime)
        if isinstance(grant, policy.Denial):
            return self._refuse(uid, grant)
        denial = policy.supported(spec, resolved, key)
        if denial is not None:
            return self._refuse(uid, denial)
        if not self.claims.claim((resolved.tenant_id, client_id), uid):
            return policy.taken(client_id)
        connection = await self.registry.connection(key)
        if isinstance(connection, CredentialsProblem):
            return connection
        return Admitted(key=key, tenant_id=resolved.tenant_id, client_id=client_id,
                        connection=connection, default_lifetime=grant.default_lifetime)

    async def tenant_id_of(self, namespace: str, spec: ClientSpec) -> str | None:
        """The tenant the resource's tenantRef resolves to now (None: it does not resolve)."""
        resolved = await self._resolve(policy.tenant_key(spec.tenant_ref, namespace), namespace,
                                       spec)
        return None if isinstance(resolved, policy.Denial) else resolved.tenant_id

    async def _resolve(self, key: TenantKey, namespace: str,
                       spec: ClientSpec) -> TenantSpec | policy.Denial:
        labels = (await self.registry.namespace_labels(namespace)
                  if key.kind == CLUSTER_KIND else None)
        return policy.resolve(spec.tenant_ref, namespace, labels, self.registry.get(key))

    def _refuse(self, uid: str, denial: policy.Denial) -> policy.Denial:
        self.claims.release(uid)
        return denial

    def owns(self, uid: str, tenant_id: str, client_id: str) -> bool:
        """Whether `uid` is the one resource that may delete this remote client."""
        return self.claims.holder((tenant_id, client_id)) in (None, uid)
