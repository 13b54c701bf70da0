"""`Informer` (kube_watch.py) against the real kube-apiserver: list in pages, watch from the
list's version, a relist that tells only differences, an event larger than aiohttp's line
limit, a consumer's bug. (A fresh etcd is never compacted, so the 410 Gone path is driven by
a scripted server on loopback: tests/unit/test_kube_watch.py.)"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ccoperator.app import kube_configuration
from ccoperator.kube.http import HttpLimits, KubeHttp, connect
from ccoperator.kube.watch import ADDED, DELETED, LISTED, MODIFIED, Informer, WatchTiming
from kubernetes import client

from tests.watch_support import running

pytestmark = pytest.mark.controlplane

LABEL = "ccoperator.test/watched"
SELECTOR = f"{LABEL}=yes"
FAST = WatchTiming(server_timeout=30, read_timeout=60, backoff_initial=0.1, backoff_max=0.5)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # (type, name, uid)
        self.changed = asyncio.Event()

    def __call__(self, kind: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        self.events.append((kind, meta["name"], meta.get("uid", "")))
        self.changed.set()

    def take(self) -> list[tuple[str, str]]:
        out = [(kind, name) for kind, name, _ in self.events]
        self.events.clear()
        return out

    async def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[str, str]]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.take()


@pytest.fixture
async def http(kubeconfig: Path) -> AsyncIterator[KubeHttp]:
    connection = connect(kube_configuration(str(kubeconfig)))
    try:
        yield connection
    finally:
        await connection.close()


def make_secret(core: client.CoreV1Api, namespace: str, name: str, *, watched: bool = True,
                size: int = 8) -> client.V1Secret:
    labels = {LABEL: "yes" if watched else "no"}
    value = base64.b64encode(b"x" * size).decode()
    return core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, labels=labels), data={"v": value}))


def touch(core: client.CoreV1Api, namespace: str, name: str, value: str) -> None:
    core.patch_namespaced_secret(name, namespace, {"metadata": {"annotations": {"t": value}}})


async def test_lists_in_pages_then_watches_from_the_lists_version(
        http: KubeHttp, core: client.CoreV1Api, namespace: str) -> None:
    for i in range(5):
        make_secret(core, namespace, f"s-{i}")
    make_secret(core, namespace, "other", watched=False)
    seen = Recorder()
    informer = Informer(http, f"/api/v1/namespaces/{namespace}/secrets", seen,
                        label_selector=SELECTOR, timing=FAST, page_size=2)
    assert await informer.list() == 5
    assert sorted(seen.take()) == [(LISTED, f"s-{i}") for i in range(5)]

    async with running(informer):
        # Made before the watch opened, after the list: the watch still shows it.
        make_secret(core, namespace, "s-5")
        assert await seen.wait_for(1) == [(ADDED, "s-5")]
        touch(core, namespace, "s-0", "1")
        touch(core, namespace, "other", "1")  # not selected: no event
        assert await seen.wait_for(1) == [(MODIFIED, "s-0")]
        core.delete_namespaced_secret("s-1", namespace)
        assert await seen.wait_for(1) == [(DELETED, "s-1")]
        await asyncio.sleep(1)
        assert seen.take() == []
    assert len(informer) == 5


async def test_a_relist_tells_only_the_differences(
        http: KubeHttp, core: client.CoreV1Api, namespace: str) -> None:
    for name in ("kept", "changed", "deleted", "replaced"):
        make_secret(core, namespace, name)
    seen = Recorder()
    informer = Informer(http, f"/api/v1/namespaces/{namespace}/secrets", seen,
                        label_selector=SELECTOR, timing=FAST)
    await informer.list()
    uids = {name: uid for _, name, uid in seen.events}
    seen.take()
    # While nothing watches: one changed, one deleted, one deleted and made again, one new.
    touch(core, namespace, "changed", "2")
    core.delete_namespaced_secret("deleted", namespace)
    core.delete_namespaced_secret("replaced", namespace)
    make_secret(core, namespace, "replaced")
    make_secret(core, namespace, "new")
    await informer.list()
    events = seen.events[:]
    assert sorted((kind, name) for kind, name, _ in events) == sorted([
        (MODIFIED, "changed"), (DELETED, "deleted"), (DELETED, "replaced"),
        (ADDED, "replaced"), (ADDED, "new")])
    # A deletion nobody saw still names the object it was (its uid: the runtime's key).
    assert (DELETED, "deleted", uids["deleted"]) in events
    assert (DELETED, "replaced", uids["replaced"]) in events


async def test_an_event_larger_than_a_line_buffer_arrives_whole(
        http: KubeHttp, core: client.CoreV1Api, namespace: str) -> None:
    bodies: list[dict[str, Any]] = []
    seen = Recorder()

    def keep(kind: str, body: dict[str, Any]) -> None:
        bodies.append(body)
        seen(kind, body)

    informer = Informer(http, f"/api/v1/namespaces/{namespace}/secrets", keep,
                        label_selector=SELECTOR, timing=FAST)
    await informer.list()
    async with running(informer):
        make_secret(core, namespace, "large", size=300_000)  # > aiohttp's 128 KiB lines
        assert await seen.wait_for(1) == [(ADDED, "large")]
    assert len(base64.b64decode(bodies[0]["data"]["v"])) == 300_000


async def test_a_consumer_that_fails_does_not_end_the_watch(
        http: KubeHttp, core: client.CoreV1Api, namespace: str) -> None:
    seen = Recorder()

    def fragile(kind: str, body: dict[str, Any]) -> None:
        if body["metadata"]["name"] == "poison":
            raise RuntimeError("a bug in a consumer")
        seen(kind, body)

    informer = Informer(http, f"/api/v1/namespaces/{namespace}/secrets", fragile,
                        label_selector=SELECTOR, timing=FAST)
    await informer.list()
    async with running(informer) as task:
        make_secret(core, namespace, "poison")
        make_secret(core, namespace, "fine")
        assert await seen.wait_for(1) == [(ADDED, "fine")]
        assert not task.done()


async def test_metadata_only_names_every_other_secret_and_never_carries_data(
        http: KubeHttp, core: client.CoreV1Api, namespace: str) -> None:
    bodies: list[tuple[str, dict[str, Any]]] = []
    seen = Recorder()

    def keep(kind: str, body: dict[str, Any]) -> None:
        bodies.append((kind, body))
        seen(kind, body)

    make_secret(core, namespace, "theirs-before", watched=False)
    make_secret(core, namespace, "ours", watched=True)
    informer = Informer(http, f"/api/v1/namespaces/{namespace}/secrets", keep,
                        label_selector=f"{LABEL}!=yes", timing=FAST, metadata_only=True)
    assert await informer.list() == 1
    assert seen.take() == [(LISTED, "theirs-before")]
    async with running(informer):
        make_secret(core, namespace, "theirs-after", watched=False)
        # A Secret without the label at all is "not ours" too.
        core.create_namespaced_secret(namespace, client.V1Secret(
            metadata=client.V1ObjectMeta(name="unlabelled"), data={"v": "eA=="}))
        assert await seen.wait_for(2) == [(ADDED, "theirs-after"), (ADDED, "unlabelled")]
        core.delete_namespaced_secret("theirs-before", namespace)
        assert await seen.wait_for(1) == [(DELETED, "theirs-before")]
    assert [kind for kind, _ in bodies] == [LISTED, ADDED, ADDED, DELETED]
    for _, body in bodies:
        assert body.get("kind") == "PartialObjectMetadata", body.get("kind")
        assert "data" not in body


async def test_watches_never_take_the_connections_requests_need(
        kubeconfig: Path, core: client.CoreV1Api, namespace: str) -> None:
    # More open watches than the request pool has connections (2 here, 32 by default; an
    # operator watching 11 namespaces holds 33): requests must still go out at once.
    connection = connect(kube_configuration(str(kubeconfig)), HttpLimits(max_connections=2))
    try:
        informers = [Informer(connection, f"/api/v1/namespaces/{namespace}/secrets",
                              Recorder(), label_selector=SELECTOR, timing=FAST)
                     for _ in range(5)]
        for informer in informers:
            await informer.list()
        async with contextlib.AsyncExitStack() as stack:
            for informer in informers:
                await stack.enter_async_context(running(informer))
            await asyncio.sleep(0.5)  # every watch open
            async with asyncio.timeout(10):
                for _ in range(4):
                    await connection.request_json("GET", f"/api/v1/namespaces/{namespace}")
    finally:
        await connection.close()
