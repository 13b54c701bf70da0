"""Leftovers: clients marked with this cluster's name that no resource declares any more.

A rebuilt cluster whose Git no longer declares a client, resources removed while the operator
was away: their remote clients stay, with secrets that still authenticate. Once every
`CCOPERATOR_ORPHAN_SCAN_PERIOD` each tenant is listed (the first scan one resync period after
start, after the start-up lists, so that nothing in flight looks orphaned; on the unversioned
form the resyncs' shared list of the tenant serves both), and each tenant object reports the
orphans in the namespaces it serves: `status.orphanedClients` and
`ccoperator_orphaned_clients`. With `spec.orphans: Delete` an orphan that stayed one for
`spec.orphanGracePeriod` is deleted (read again first: still marked ours, still undeclared),
with an event on the tenant object. A client marked released (its resource was deleted with
`deletionPolicy: Orphan`) is no orphan.

On the unversioned form marks are in each client's secrets, so only clients whose id has the
form this cluster derives, and that no resource holds, are read (one list of secrets each); an
orphan with a caller-chosen id there is left to `ccoperator prune`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .. import metrics
from ..api.clients import GROUP, VERSION
from ..api.marks import Cluster, derived_in, namespace_and_name
from ..api.tenants import CLUSTER_KIND, Orphans, TenantKey, TenantObject
from ..identity import IdentityError, NotFound
from ..kube.api import KubeApi, KubeApiError
from ..kube.events import event_body
from .connections import Connection
from .credentials import CredentialsProblem
from .marked import MarkedClient, marked_clients, read_mark
from .registry import TenantRegistry

log = logging.getLogger("ccoperator.orphans")


@dataclass(frozen=True)
class Orphan:
    tenant_id: str
    client: MarkedClient
    namespace: str
    name: str


class OrphanScanner:
    def __init__(self, registry: TenantRegistry, kube: KubeApi, *, cluster: Cluster,
                 period: float, declared: Callable[[], set[tuple[str, str]]],
                 held: Callable[[str], Collection[str]], watched: Sequence[str],
                 leading: Callable[[], bool] = lambda: True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._registry = registry
        self._kube = kube
        self._cluster = cluster
        self._period = period
        self._declared = declared  # (namespace, name) of every resource in the watch
        self._held = held  # client ids resources hold in a tenant (claims)
        self._watched = set(watched)  # empty: every namespace
        self._leading = leading
        self._clock = clock
        self._since: dict[tuple[str, str], float] = {}  # (tenant, client id) -> first seen
        self._written: dict[TenantKey, int] = {}

    async def run(self, first_after: float) -> None:
        """Scan once `first_after` seconds have passed (a resync period: the resyncs' list
        serves it, and a restart's verification costs no list more), then once every period,
        while this process leads."""
        due = self._clock() + first_after
        while True:
            if self._leading() and self._clock() >= due:
                try:
                    await self.scan()
                except Exception:
                    log.exception("the orphan scan failed")
                due = self._clock() + self._period
            await asyncio.sleep(min(2.0, max(due - self._clock(), 0.1)))

    async def scan(self) -> None:
        groups: dict[str, list[TenantObject]] = {}
        for key in self._registry.tenant_keys():
            obj = self._registry.get(key)
            if obj is not None and obj.spec is not None:
                groups.setdefault(obj.spec.tenant_id, []).append(obj)
        counts: dict[TenantKey, int] = {}
        for tenant_id, objects in groups.items():
            try:
                await self._scan_tenant(tenant_id, objects, counts)
            except (IdentityError, KubeApiError) as exc:
                log.warning("tenant %s: the orphan scan could not read it: %s", tenant_id, exc)
        await self._publish(counts)

    async def _scan_tenant(self, tenant_id: str, objects: list[TenantObject],
                           counts: dict[TenantKey, int]) -> None:
        acting = await self._connections(objects)
        if not acting:
            return
        connection = next(iter(acting.values()))
        orphans = await self._orphans(tenant_id, connection)
        now = self._clock()
        current = {(tenant_id, o.client.client_id) for o in orphans}
        for seen in [s for s in self._since if s[0] == tenant_id and s not in current]:
            del self._since[seen]  # declared again, deleted, or gone: no longer an orphan
        for seen in current:
            self._since.setdefault(seen, now)
        for obj in objects:
            mine = [o for o in orphans if await self._serves(obj, o.namespace)]
            counts[obj.key] = len(mine)
            if obj.spec is not None and obj.spec.orphans is Orphans.DELETE and obj.key in acting:
                grace = obj.spec.orphan_grace().total_seconds()
                for orphan in mine:
                    if now - self._since.get((tenant_id, orphan.client.client_id), now) >= grace:
                        await self._delete(obj, acting[obj.key], orphan)

    async def _connections(self, objects: list[TenantObject]) -> dict[TenantKey, Connection]:
        acting: dict[TenantKey, Connection] = {}
        for obj in objects:
            connection = await self._registry.connection(obj.key)
            if not isinstance(connection, CredentialsProblem):
                acting[obj.key] = connection
        return acting

    async def _orphans(self, tenant_id: str, connection: Connection) -> list[Orphan]:
        declared, held = self._declared(), set(self._held(tenant_id))
        marked = await marked_clients(
            connection.identity, tenant_id, self._cluster.name,
            listing=await connection.remote.full_listing(tenant_id),
            # Unversioned: a secrets list each, so only for ids this cluster derives that no
            # resource holds (v1 shows every mark in the list itself).
            candidate=lambda client_id: (derived_in(client_id, self._cluster.name)
                                         and client_id not in held))
        reserved = self._registry.reserved_ids()
        found = []
        for client in marked:
            where = namespace_and_name(client.mark.owner)
            if (client.mark.released or where is None or where in declared
                    or client.client_id in held or client.client_id in reserved
                    or (self._watched and where[0] not in self._watched)):
                continue
            found.append(Orphan(tenant_id, client, *where))
        return found

    async def _serves(self, obj: TenantObject, namespace: str) -> bool:
        """Whether `namespace` is one this tenant object serves (its orphans are its own)."""
        if obj.key.kind != CLUSTER_KIND:
            return obj.key.namespace == namespace
        selector = obj.spec.namespace_selector if obj.spec is not None else None
        labels = await self._registry.namespace_labels(namespace)
        return selector is not None and labels is not None and selector.matches(labels)

    async def _delete(self, obj: TenantObject, connection: Connection, orphan: Orphan) -> None:
        """Delete one orphan, after reading it again: still ours, still undeclared."""
        client_id = orphan.client.client_id
        if not await self._still_orphaned(connection, orphan):
            return
        with contextlib.suppress(NotFound):
            await connection.identity.delete_client(orphan.tenant_id, client_id)
        connection.remote.forget(orphan.tenant_id, client_id)
        self._since.pop((orphan.tenant_id, client_id), None)
        log.info("%s: deleted orphaned client %r (%s/%s)", obj.key, client_id,
                 orphan.namespace, orphan.name)
        await self._event(obj, "OrphanDeleted",
                          f"Deleted client {client_id!r} of tenant {orphan.tenant_id!r}: it was "
                          f"marked for {orphan.namespace}/{orphan.name} in cluster "
                          f"{self._cluster.name!r}, which no ClientCredentialClient declares, "
                          f"for longer than spec.orphanGracePeriod.")

    async def _still_orphaned(self, connection: Connection, orphan: Orphan) -> bool:
        tenant_id, client_id = orphan.tenant_id, orphan.client.client_id
        try:
            found = await read_mark(connection, tenant_id, client_id)
        except NotFound:  # the tenant itself is gone
            return False
        if found is None:
            return False
        declared = self._declared()
        return (found[1] == orphan.client.mark
                and (orphan.namespace, orphan.name) not in declared
                and client_id not in set(self._held(tenant_id)))

    async def _event(self, obj: TenantObject, reason: str, message: str) -> None:
        involved = {"apiVersion": f"{GROUP}/{VERSION}", "kind": obj.key.kind,
                    "name": obj.key.name, "uid": obj.uid}
        if obj.key.namespace:
            involved["namespace"] = obj.key.namespace
        body = event_body(namespace=obj.key.namespace or "default", involved=involved,
                          warning=False, reason=reason, message=message,
                          now=datetime.now(UTC))
        try:
            await self._kube.post_event(body["metadata"]["namespace"], body)
        except KubeApiError as exc:
            log.warning("%s: could not post event %s: %s", obj.key, reason, exc)

    async def _publish(self, counts: dict[TenantKey, int]) -> None:
        metrics.observe_orphans({_label(k): n for k, n in counts.items()})
        for key, count in counts.items():
            # Absent counts as 0: a tenant without orphans is never written to for them (a
            # resync that finds nothing to do writes nothing; a restart rewrites nothing).
            shown = self._registry.status_of(key).get("orphanedClients") or 0
            if self._written.get(key, shown) == count:
                continue
            try:
                await self._kube.patch_object_status(key.status_path(),
                                                     {"orphanedClients": count})
            except KubeApiError as exc:
                log.warning("%s: could not write status.orphanedClients: %s", key, exc)
                continue
            self._written[key] = count
        for gone in set(self._written) - set(counts):
            del self._written[gone]


def _label(key: TenantKey) -> str:
    """The metric's tenant_object label: Kind/name, or Kind/namespace/name."""
    return f"{key.kind}/{key.namespace}/{key.name}" if key.namespace else f"{key.kind}/{key.name}"
