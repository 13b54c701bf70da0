"""`Informer`'s recovery paths, against a scripted API server on loopback (a real HTTP server:
the real kube-apiserver cannot be made to forget a version on demand, tests/integration has
the rest): a 410 Gone, as a watch event or as the answer, means a new list; bookmarks move
the version forward; any other failure opens the watch again where it stopped."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from ccoperator.kube.http import KubeHttp, connect
from ccoperator.kube.watch import ADDED, DELETED, LISTED, MODIFIED, Informer, WatchTiming
from kubernetes.client import Configuration

from tests.watch_support import running

PATH = "/api/v1/namespaces/ns/secrets"
FAST = WatchTiming(server_timeout=30, read_timeout=5, backoff_initial=0.05, backoff_max=0.1)
Watch = Callable[[web.Request], Awaitable[web.StreamResponse]]


def obj(name: str, uid: str, version: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name, "uid": uid,
                         "resourceVersion": version}}


@dataclass
class Script:
    """What the server lists (a queue of answers) and how each watch answers (in order)."""

    lists: list[dict[str, Any]] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)
    watched_from: list[str] = field(default_factory=list)
    list_calls: int = 0
    closing: asyncio.Event = field(default_factory=asyncio.Event)


async def stream(request: web.Request, events: list[dict[str, Any]],
                 hold: asyncio.Event | None = None) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    for event in events:
        await response.write(json.dumps(event).encode() + b"\n")
    if hold is not None:
        await hold.wait()  # an open, quiet watch, until the server shuts down
    return response


@pytest.fixture
async def server() -> AsyncIterator[tuple[Script, str]]:
    script = Script()

    async def collection(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") == "1":
            script.watched_from.append(request.query["resourceVersion"])
            if not script.watches:
                return await stream(request, [], hold=script.closing)
            return await script.watches.pop(0)(request)
        script.list_calls += 1
        return web.json_response(script.lists.pop(0))

    app = web.Application()
    app.router.add_get(PATH, collection)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield script, f"http://127.0.0.1:{port}"
    finally:
        script.closing.set()
        await runner.cleanup()


@pytest.fixture
async def http(server: tuple[Script, str]) -> AsyncIterator[KubeHttp]:
    connection = connect(Configuration(host=server[1]))
    try:
        yield connection
    finally:
        await connection.close()


def listing(version: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": version}, "items": list(items)}


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("gone", ["event", "answer"])
async def test_gone_means_a_new_list_whose_differences_are_events(
        server: tuple[Script, str], http: KubeHttp, gone: str) -> None:
    script, _ = server
    script.lists = [listing("10", obj("a", "u-a", "5"), obj("b", "u-b", "6")),
                    listing("20", obj("a", "u-a", "15"), obj("c", "u-c", "18"))]

    async def expired(request: web.Request) -> web.StreamResponse:
        if gone == "answer":
            return web.json_response({"kind": "Status", "code": 410}, status=410)
        return await stream(request, [{"type": "ERROR", "object": {
            "kind": "Status", "code": 410, "reason": "Expired"}}])

    script.watches = [expired]
    events: list[tuple[str, str, str]] = []
    relists: list[int] = []
    informer = Informer(http, PATH, lambda k, b: events.append(
        (k, b["metadata"]["name"], b["metadata"]["uid"])), timing=FAST,
        on_relist=lambda: relists.append(1))
    await informer.list()
    assert events == [(LISTED, "a", "u-a"), (LISTED, "b", "u-b")]
    events.clear()
    async with running(informer):
        await until(lambda: len(script.watched_from) == 2)
    assert relists == [1] and script.list_calls == 2
    assert sorted(events) == sorted([(MODIFIED, "a", "u-a"), (ADDED, "c", "u-c"),
                                     (DELETED, "b", "u-b")])
    # The second watch starts from the new list's version.
    assert script.watched_from == ["10", "20"]


async def test_bookmarks_and_events_move_the_version_a_broken_stream_resumes_from(
        server: tuple[Script, str], http: KubeHttp) -> None:
    script, _ = server
    script.lists = [listing("10")]

    async def then_break(request: web.Request) -> web.StreamResponse:
        response = await stream(request, [
            {"type": "ADDED", "object": obj("a", "u-a", "11")},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "30"}}},
        ])
        await response.write(b'{"type": "MODIFIED", "obj')  # the connection drops mid-event
        return response

    async def server_error(request: web.Request) -> web.StreamResponse:
        return web.json_response({"kind": "Status", "code": 500}, status=500)

    script.watches = [then_break, server_error]
    events: list[tuple[str, str]] = []
    informer = Informer(http, PATH, lambda k, b: events.append((k, b["metadata"]["name"])),
                        timing=FAST)
    await informer.list()
    async with running(informer):
        await until(lambda: len(script.watched_from) == 3)
    assert events == [(ADDED, "a")]
    # No new list: each new watch starts where the last one got to (the bookmark's version).
    assert script.watched_from == ["10", "30", "30"] and script.list_calls == 1


async def test_a_stream_that_ends_at_once_is_not_reopened_in_a_tight_loop(
        server: tuple[Script, str], http: KubeHttp) -> None:
    script, _ = server
    script.lists = [listing("10")]

    async def empty(request: web.Request) -> web.StreamResponse:
        return await stream(request, [])  # 200, then closed without an event

    script.watches = [empty] * 1000
    informer = Informer(http, PATH, lambda k, b: None, timing=FAST)
    await informer.list()
    async with running(informer):
        await asyncio.sleep(0.6)
    # Backing off from 0.05 s (at most 0.1 s here): a handful of opens, not hundreds.
    assert 2 <= len(script.watched_from) <= 12, len(script.watched_from)
