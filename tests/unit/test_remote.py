"""RemoteReader: resyncs share one paged list per tenant; missing entries are confirmed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ccoperator.identity import ClientDto, ClientList, ClientNotFound
from ccoperator.tenants.remote import RemoteReader


class FakeIdentity:
    """Plain object standing in for IdentityClient's two read calls (no HTTP involved)."""

    def __init__(self, clients: dict[str, list[str]]) -> None:
        self.clients = clients
        self.lists = 0
        self.gets = 0

    async def list_clients(self, tenant_id: str) -> ClientList:
        self.lists += 1
        await asyncio.sleep(0.01)  # in flight long enough for concurrent readers to pile up
        return ClientList(items=[ClientDto(client_id=c, name=c, role_ids=["r"])
                                 for c in self.clients[tenant_id]])

    async def get_client(self, tenant_id: str, client_id: str) -> ClientDto:
        self.gets += 1
        if client_id not in self.clients[tenant_id]:
            raise ClientNotFound(f"no {client_id}")
        return ClientDto(client_id=client_id, name=client_id, role_ids=["r"])


def reader(identity: FakeIdentity, now: list[float]) -> RemoteReader:
    return RemoteReader(identity, max_age=60, clock=lambda: now[0])  # type: ignore[arg-type]


async def test_concurrent_resyncs_share_one_list() -> None:
    identity = FakeIdentity({"t": [f"c{i}" for i in range(50)]})
    remote = reader(identity, [0.0])
    found = await asyncio.gather(*(remote.get_cached("t", f"c{i}") for i in range(50)))
    assert all(f is not None for f in found)
    assert (identity.lists, identity.gets) == (1, 0)


async def test_snapshot_expires() -> None:
    identity = FakeIdentity({"t": ["a"]})
    now = [0.0]
    remote = reader(identity, now)
    await remote.get_cached("t", "a")
    now[0] = 59.0
    await remote.get_cached("t", "a")
    assert identity.lists == 1
    now[0] = 61.0
    await remote.get_cached("t", "a")
    assert identity.lists == 2


async def test_absent_from_list_is_confirmed_by_get() -> None:
    identity = FakeIdentity({"t": ["a"]})
    remote = reader(identity, [0.0])
    assert await remote.get_cached("t", "gone") is None
    assert (identity.lists, identity.gets) == (1, 1)


async def test_own_writes_update_the_snapshot() -> None:
    identity = FakeIdentity({"t": ["a"]})
    remote = reader(identity, [0.0])
    before = await remote.get_cached("t", "a")
    assert before is not None and before.name == "a"
    from dataclasses import replace

    remote.remember("t", replace(before, name="renamed"))
    after: Any = await remote.get_cached("t", "a")
    assert after.name == "renamed" and identity.lists == 1


async def test_a_restart_wave_lists_each_tenant_once_however_long_it_takes() -> None:
    identity = FakeIdentity({"t": ["a"], "u": ["b"]})
    now = [100.0]
    remote = reader(identity, now)  # started at 100
    await remote.get_cached("t", "a", since_start=True)
    now[0] = 100.0 + 3600  # an hour-long resume wave: still the snapshot taken since start
    await remote.get_cached("t", "a", since_start=True)
    await remote.get_cached("u", "b", since_start=True)
    await remote.get_cached("u", "b", since_start=True)
    assert identity.lists == 2  # one per tenant
    # A resync pass holds the snapshot to max_age: the hour-old one is listed again.
    await remote.get_cached("t", "a")
    assert identity.lists == 3


async def test_a_successful_list_is_proof_the_tenant_answers_for_a_while() -> None:
    identity = FakeIdentity({"t": ["a"], "u": []})
    now = [100.0]
    remote = reader(identity, now)
    assert not remote.answered_within("t", 15)
    assert await remote.get("t", "a") is not None  # a GET is no list
    assert not remote.answered_within("t", 15)
    await remote.get_cached("t", "a")
    now[0] = 115.0
    assert remote.answered_within("t", 15)
    assert not remote.answered_within("u", 15)  # per tenant
    now[0] = 115.5
    assert not remote.answered_within("t", 15)


async def test_a_failed_list_proves_nothing() -> None:
    identity = FakeIdentity({})  # every list fails (no such tenant here)
    remote = reader(identity, [0.0])
    with contextlib.suppress(KeyError):
        await remote.get_cached("t", "a")
    assert not remote.answered_within("t", 15)
