"""One call of the identity API, from route to a 2xx answer or a typed error.

Every call:
1. takes a token from the cache (renewed before expiry; concurrent callers share a request),
2. sends the request, bounded by `max_concurrency` in-flight exchanges,
3. on 401 drops that token, takes a new one and resends once (a 401 means the server did
   nothing, so even a create may be resent), then gives up with `Unauthorized`,
4. maps any other non-2xx to a typed error (`errors.py`) and retries per `retry.py`.

`parse_body` then reads the 2xx answer through a form's reader, never quoting what it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from . import paths
from .errors import (
    ClientNotFound,
    Conflict,
    IdentityError,
    NotFound,
    OutcomeUnknown,
    SecretNotFound,
    Transient,
    Unauthorized,
    UnexpectedResponse,
    describe,
    error_from_status,
)
from .models import Token
from .retry import Random, RetryPolicy, Sleep, call_with_retries, parse_retry_after
from .tokens import TokenCache
from .transport import Params, Transport

log = logging.getLogger("ccoperator.identity")

T = TypeVar("T")


class Caller:
    """Sends the calls of one `IdentityClient`: its transport, token cache and retry policy."""

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        tokens: TokenCache,
        *,
        policy: RetryPolicy,
        sleep: Sleep,
        rand: Random,
    ) -> None:
        self._transport = transport
        self._base = base_url
        self._tokens = tokens
        self._policy = policy
        self._sleep = sleep
        self._rand = rand

    async def __call__(
        self,
        route: paths.Route,
        *,
        json: Any = None,
        params: Params | None = None,
    ) -> httpx.Response:
        """Send `route` with a token, refresh once on 401, retry per policy; a 2xx answer."""
        url = self._base + route.path
        try:
            return await call_with_retries(
                lambda: self._attempt(route, url, json, params),
                idempotent=route.idempotent,
                policy=self._policy,
                describe=f"{route.method} {route.path}",
                sleep=self._sleep,
                rand=self._rand,
            )
        except IdentityError as exc:
            _log_failure(route, exc)
            raise

    async def _attempt(
        self, route: paths.Route, url: str, json: Any, params: Params | None
    ) -> httpx.Response:
        token = await self._tokens.get()
        response = await self._send(route, url, token, json, params)
        if response.status_code == 401:
            # Expired early, revoked, or the server restarted: one fresh token, one resend.
            log.info(
                "%s %s: 401, renewing the token and resending once",
                route.method,
                route.path,
                extra=log_fields(route, 401, None),
            )
            self._tokens.invalidate(token)
            token = await self._tokens.get()
            response = await self._send(route, url, token, json, params)
        if response.is_success:
            return response
        raise _error(route, response)

    async def _send(
        self,
        route: paths.Route,
        url: str,
        token: Token,
        json: Any,
        params: Params | None,
    ) -> httpx.Response:
        headers = {"Authorization": token.authorization(), "Accept": "application/json"}
        return await self._transport.send(
            route.method,
            route.name,
            url,
            path=route.path,
            headers=headers,
            json=json,
            params=params,
        )


def _log_failure(route: paths.Route, exc: IdentityError) -> None:
    # A missing client or secret is the answer a reconciler (and the tenant check's
    # probe, every period) expects; a missing tenant and conflicts are worth a line;
    # the rest is news.
    level = (logging.DEBUG if isinstance(exc, ClientNotFound | SecretNotFound)
             else logging.INFO if isinstance(exc, NotFound | Conflict)
             else logging.WARNING)
    if not isinstance(exc, Transient):  # exhausted retries were logged by the loop
        log.log(
            level,
            "%s failed: %s",
            route.name,
            exc.message,
            extra=log_fields(route, exc.status, exc.operation_id),
        )


def _error(route: paths.Route, response: httpx.Response) -> IdentityError:
    status = response.status_code
    if status == 401:
        return Unauthorized(
            describe(
                route.method,
                route.path,
                status,
                summary="unauthorized even with a freshly issued token",
            ),
            method=route.method,
            path=route.path,
            status=status,
        )
    try:
        body: Any = response.json() if response.content else None
    except ValueError:
        body = None
    return error_from_status(
        method=route.method,
        path=route.path,
        status=status,
        body=body,
        kind=route.kind,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def parse_body(route: paths.Route, response: httpx.Response, read: Callable[[Any], T]) -> T:
    """Validate a 2xx body. A failure names only field locations, never values (a
    create answer holds a secret), and is `OutcomeUnknown` for a non-idempotent call:
    the server acted, but what it made cannot be read."""
    try:
        return read(response.json())
    except ValueError as exc:  # includes ValidationError and JSON decode errors
        problem = _validation_summary(exc)
    summary = f"unreadable answer ({problem})"
    fields: dict[str, Any] = {
        "method": route.method,
        "path": route.path,
        "status": response.status_code,
    }
    if route.idempotent:
        error: IdentityError = UnexpectedResponse(
            describe(route.method, route.path, response.status_code, summary=summary),
            **fields,
        )
    else:
        error = OutcomeUnknown(
            describe(
                route.method,
                route.path,
                response.status_code,
                summary=f"{summary}; it may have been applied, look it up",
            ),
            **fields,
        )
    log.warning(
        "%s failed: %s",
        route.name,
        error.message,
        extra=log_fields(route, response.status_code, None),
    )
    raise error


def _validation_summary(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in err['loc']) or 'body'}: {err['type']}"
            for err in exc.errors(include_input=False, include_url=False)[:5]
        ]
        return "; ".join(problems)
    return "not JSON"


def log_fields(route: paths.Route, status: int | None, operation_id: str | None) -> dict[str, Any]:
    return {
        "identity_method": route.method,
        "identity_path": route.path,
        "identity_status": status,
        "identity_operation_id": operation_id,
    }
