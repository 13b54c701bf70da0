"""Fixtures of the identity client's unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from .stubserver import Handler, Seen, Stub


@pytest.fixture
async def stub() -> AsyncIterator[Stub]:
    state = Stub()

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        state.seen.append(
            Seen(
                request.method,
                request.path,
                request.raw_path,
                dict(request.query),
                dict(request.headers),
                body,
            )
        )
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            found = state.handlers.get((request.method, request.path))
            if found is None:
                return web.json_response({"Error": "Not Found"}, status=404)
            return await found(request)
        finally:
            state.in_flight -= 1

    async def dispatch(request: web.Request) -> web.StreamResponse:  # pragma: no cover
        raise AssertionError("the middleware answers everything")

    app = web.Application(middlewares=[record])
    app.router.add_route("*", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()
