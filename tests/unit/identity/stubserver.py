"""A scriptable HTTP server on loopback for the identity client's HTTP-level unit tests.

The `stub` fixture (conftest.py) runs it.

Each test registers handlers per (method, path); unknown paths answer 404. The server
records every request (method, path, query, headers, body) so tests can count calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ADMIN_ID = "stub-admin"
ADMIN_SECRET = "stub-admin-Secret-xyz"


@dataclass
class Seen:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Stub:
    base_url: str = ""
    handlers: dict[tuple[str, str], Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    tokens_issued: int = 0

    def on(self, method: str, path: str, handler: Handler) -> None:
        self.handlers[(method, path)] = handler

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path == path)

    def serve_tokens(self, ttl: int = 3600, path: str = "/identity/connect/token") -> None:
        async def token(request: web.Request) -> web.Response:
            self.tokens_issued += 1
            return web.json_response(
                {
                    "access_token": f"stub-token-{self.tokens_issued}",
                    "token_type": "Bearer",
                    "expires_in": ttl,
                }
            )

        self.on("POST", path, token)


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            status=status, text=json.dumps(body), content_type="application/json", headers=headers
        )

    return handler


def sequence(*handlers: Handler) -> Handler:
    """Answer with each handler in turn; the last one repeats."""
    remaining = list(handlers)

    async def handler(request: web.Request) -> web.StreamResponse:
        current = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        return await current(request)

    return handler


def slow(seconds: float, then: Handler) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return await then(request)

    return handler
