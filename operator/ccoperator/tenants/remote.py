"""Reading remote clients: one GET for changes, one paged list per tenant for resyncs.

A resync wave (and a restart, when every resource is verified again) would otherwise cost one
GET per resource. Resources of a tenant share a snapshot of the tenant's paged list instead
(on a v1 tenant, of the list filtered to the ids the resources hold: a page of known ids per
request, however many clients others keep in that tenant);
concurrent readers share the one list call in flight. A resync accepts a snapshot younger
than `max_age`; the passes that verify resources after a start accept any snapshot taken
since the start, so a restart lists each tenant once however long its wave takes. The
snapshot is only trusted for what it shows: a client missing from it, or a partial (207)
list, is confirmed with a GET before anything is recreated.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from ..identity import ApiVersion, ClientDto, ClientNotFound, IdentityClient
from ..reconcile.model import RemoteClient, to_remote


@dataclass
class _Snapshot:
    taken_at: float
    clients: dict[str, RemoteClient]


class RemoteReader:
    def __init__(
        self,
        identity: IdentityClient,
        *,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        ids_of: Callable[[str], Collection[str]] | None = None,
    ) -> None:
        self._identity = identity
        self._ids_of = ids_of
        self._max_age = max_age
        self._clock = clock
        self._started_at = clock()
        self._snapshots: dict[str, _Snapshot] = {}
        self._inflight: dict[str, asyncio.Task[_Snapshot]] = {}
        # When a list call of each tenant last succeeded (its start, on `clock`).
        self._answered: dict[str, float] = {}

    async def get(self, tenant_id: str, client_id: str) -> RemoteClient | None:
        """A fresh read of one client (None when it does not exist)."""
        try:
            dto = await self._identity.get_client(tenant_id, client_id)
        except ClientNotFound:
            self.forget(tenant_id, client_id)
            return None
        remote = to_remote(dto)
        self.remember(tenant_id, remote)
        return remote

    async def get_cached(
        self, tenant_id: str, client_id: str, *, since_start: bool = False
    ) -> RemoteClient | None:
        """A read that may come from the tenant snapshot (for resyncs and resumes).

        `since_start`: any snapshot taken since this reader was created will do (resume
        passes); otherwise the snapshot must be younger than `max_age` (resync passes).
        """
        snapshot = await self._snapshot(tenant_id, since_start=since_start)
        found = snapshot.clients.get(client_id)
        if found is not None:
            return found
        return await self.get(tenant_id, client_id)

    def remember(self, tenant_id: str, remote: RemoteClient) -> None:
        """Record what we just read or wrote, so the snapshot does not show an older state.

        Without a snapshot yet, one that is never fresh holds it (a resync lists anew), so
        that `peek` knows the clients this process created or read.
        """
        snapshot = self._snapshots.get(tenant_id)
        if snapshot is None:
            snapshot = self._snapshots[tenant_id] = _Snapshot(taken_at=-math.inf, clients={})
        snapshot.clients[remote.client_id] = remote

    def peek(self, tenant_id: str, client_id: str) -> RemoteClient | None:
        """The client as we last read or wrote it, without a call (None: not known)."""
        snapshot = self._snapshots.get(tenant_id)
        return snapshot.clients.get(client_id) if snapshot is not None else None

    def forget(self, tenant_id: str, client_id: str) -> None:
        snapshot = self._snapshots.get(tenant_id)
        if snapshot is not None:
            snapshot.clients.pop(client_id, None)

    def answered_within(self, tenant_id: str, seconds: float) -> bool:
        """Whether a list of the tenant, sent at most `seconds` ago, succeeded: proof that
        these credentials get a token and that the tenant answers them (the tenant check's
        probe, without a call of its own)."""
        answered = self._answered.get(tenant_id)
        return answered is not None and self._clock() - answered <= seconds

    async def full_listing(self, tenant_id: str) -> list[ClientDto]:
        """Every client of the tenant (the orphan scan). Where this reader lists whole tenants
        (the unversioned form), the resyncs' shared snapshot serves, and a list read for the
        scan serves the resyncs; on v1 (whose resync lists ask only for known ids) one list of
        the whole tenant, with the tags."""
        if self._ids_of is not None and self._identity.api_version is ApiVersion.V1:
            return (await self._identity.list_clients(tenant_id)).items
        snapshot = await self._snapshot(tenant_id, since_start=False)
        return [ClientDto(client_id=c.client_id, name=c.name) for c in snapshot.clients.values()]

    def _fresh(self, snapshot: _Snapshot, since_start: bool) -> bool:
        if since_start and snapshot.taken_at >= self._started_at:
            return True
        return self._clock() - snapshot.taken_at < self._max_age

    async def _snapshot(self, tenant_id: str, *, since_start: bool) -> _Snapshot:
        current = self._snapshots.get(tenant_id)
        if current is not None and self._fresh(current, since_start):
            return current
        task = self._inflight.get(tenant_id)
        if task is None:
            task = asyncio.create_task(self._list(tenant_id))
            self._inflight[tenant_id] = task
            task.add_done_callback(lambda _t: self._inflight.pop(tenant_id, None))
        # shield: one reader being cancelled must not cancel the list the others wait for.
        return await asyncio.shield(task)

    async def _list(self, tenant_id: str) -> _Snapshot:
        started = self._clock()
        if self._ids_of is not None and self._identity.api_version is ApiVersion.V1:
            # Only the clients resources hold; one missing from it is still confirmed by GET.
            ids = sorted(self._ids_of(tenant_id))
            listing = await self._identity.list_clients(tenant_id, ids=ids)
            if ids:  # no ids, no call: that proves nothing about the tenant
                self._answered[tenant_id] = started
        else:
            listing = await self._identity.list_clients(tenant_id)
            self._answered[tenant_id] = started
        snapshot = _Snapshot(
            taken_at=started,
            clients={dto.client_id: to_remote(dto) for dto in listing.items},
        )
        self._snapshots[tenant_id] = snapshot
        return snapshot
