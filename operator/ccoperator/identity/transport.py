"""One HTTP exchange: concurrency bound, timing, metrics hook, transport errors made typed.

Nothing here logs a header or a body: the Authorization header and the bodies of token and
create calls hold secrets. Log lines carry method, route, path, status and time only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import httpx

from .errors import IdentityError, Transient

log = logging.getLogger("ccoperator.identity")

Params: TypeAlias = Mapping[str, str | int | Sequence[str]]
"""Query parameters; a sequence value is sent as the parameter repeated (`id=a&id=b`)."""

OnCall = Callable[[str, str, int | None, float], None]
"""`on_call(method, route, status, seconds)`, once per HTTP exchange; status None when no
answer came (timeout, refused or dropped connection). Routes are the names of
`ccoperator.identity.paths` (`clients.get`, `token`, ...)."""

# Failures that happen before the request leaves this process: the server saw nothing.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


class Transport:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        max_concurrency: int,
        on_call: OnCall | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard: Callable[[], None] | None = None,
    ) -> None:
        self.http = http
        # Called right before every request is sent (leader election's fence); raises to stop.
        self._guard = guard
        self._limit = asyncio.Semaphore(max_concurrency)
        self._on_call = on_call
        self._clock = clock

    async def send(
        self,
        method: str,
        route: str,
        url: str,
        *,
        path: str,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Params | None = None,
    ) -> httpx.Response:
        """Send one request and read the whole answer; any status is returned as is.

        Raises `Transient` (with `not_processed` set when the request never left) for
        timeouts and broken connections, `IdentityError` for a request httpx cannot send.
        """
        failure: IdentityError | None = None
        response: httpx.Response | None = None
        async with self._limit:
            if self._guard is not None:
                self._guard()  # after waiting for a slot: the last moment before sending
            started = self._clock()
            try:
                response = await self.http.request(
                    method, url, headers=headers, json=json, data=data, params=params
                )
            except httpx.TransportError as exc:
                failure = _transport_failure(method, path, exc)
            elapsed = self._clock() - started
        status = response.status_code if response is not None else None
        self._report(method, route, status, elapsed)
        # Raised outside the except block: the httpx exception holds the request, and with
        # it the Authorization header, so it must not ride along as __context__.
        if failure is not None:
            log.debug(
                "%s %s %s: no answer after %.3fs: %s",
                method,
                route,
                path,
                elapsed,
                failure.message,
                extra={
                    "identity_method": method,
                    "identity_path": path,
                    "identity_status": None,
                    "identity_operation_id": None,
                },
            )
            raise failure
        assert response is not None
        log.debug("%s %s %s -> %s in %.3fs", method, route, path, status, elapsed)
        return response

    def _report(self, method: str, route: str, status: int | None, elapsed: float) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(method, route, status, elapsed)
        except Exception:  # a metrics hook must never break a call
            log.exception("on_call hook failed for %s %s", method, route)


def _transport_failure(method: str, path: str, exc: httpx.TransportError) -> IdentityError:
    kind = type(exc).__name__
    # The text of a timeout or network error is about the socket ("timed out", "Connection
    # refused"); the text of a protocol error may quote header bytes, ours included, so it
    # is never repeated.
    safe_detail = isinstance(exc, httpx.TimeoutException | httpx.NetworkError)
    detail = f"{kind} ({exc})" if safe_detail and str(exc) else kind
    if isinstance(exc, _NOT_SENT):
        return Transient(
            f"{method} {path}: {detail}; the request was not sent",
            not_processed=True,
            method=method,
            path=path,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return IdentityError(f"{method} {path}: cannot send: {detail}", method=method, path=path)
    # Read/write timeouts, resets, a server closing the connection without an answer: the
    # request may have been received and acted upon.
    return Transient(f"{method} {path}: no answer: {detail}", method=method, path=path)
