"""Access tokens: discovery, the client-credentials grant, and a shared token cache.

- Discovery reads `token_endpoint` from `{base}/identity/.well-known/openid-configuration`.
  A configured token URL skips it. Concurrent callers share one discovery in flight; a
  transient failure (timeout, 429, 5xx) is retried a few times within it. When it still fails,
  `{base}/identity/connect/token` is used and discovery is tried again after
  `rediscover_after` seconds (only a success is kept for good).
- `TokenCache` hands out one token to every caller and renews it a margin before expiry
  (60 s, or 10% of the lifetime for short-lived tokens). Concurrent callers that find no
  usable token share a single in-flight request. A 401 invalidates the token that got it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from .errors import (
    IdentityError,
    InvalidClientCredentials,
    InvalidInput,
    ResourceKind,
    Transient,
    UnexpectedResponse,
    describe,
    error_from_status,
)
from .models import Token
from .paths import DEFAULT_TOKEN_PATH, DISCOVERY_PATH
from .retry import Random, RetryPolicy, Sleep, call_with_retries, parse_retry_after
from .transport import Transport

T = TypeVar("T")

log = logging.getLogger("ccoperator.identity")

# OAuth error codes that mean "these credentials do not get a token" (RFC 6749, 5.2).
_REFUSED = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})


def _path_of(url: str) -> str:
    # Logged and put into errors instead of the URL: never any userinfo or query.
    return urlsplit(url).path or "/"


class SingleFlight(Generic[T]):
    """One call of `start` in flight at a time, shared by every caller that arrives while it
    runs. A caller being cancelled does not cancel the call the others wait for."""

    def __init__(self, start: Callable[[], Awaitable[T]]) -> None:
        self._start = start
        self._task: asyncio.Task[T] | None = None

    async def __call__(self) -> T:
        task = self._task
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._run())
            task.add_done_callback(self._finished)
            self._task = task
        return await asyncio.shield(task)

    async def _run(self) -> T:
        return await self._start()

    def _finished(self, task: asyncio.Task[T]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled():
            task.exception()  # retrieved here so an error no one waits for is not reported

    async def aclose(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class TokenEndpoint:
    """Finds the token endpoint and runs the client-credentials grant."""

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        *,
        token_url: str | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rand: Random = random.random,
        clock: Callable[[], float] = time.monotonic,
        rediscover_after: float = 60.0,
        discovery_retries: int = 2,
    ) -> None:
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._configured = token_url
        self._discovered: str | None = None
        self._clock = clock
        self._rediscover_after = rediscover_after
        self._fallback_until: float | None = None
        self._policy = policy or RetryPolicy()
        # Discovery is retried within one flight, but less than a call is: every caller that
        # needs a token waits for it, and the default path is a usable answer meanwhile.
        self._discovery_policy = dataclasses.replace(
            self._policy, max_retries=min(self._policy.max_retries, discovery_retries)
        )
        self._sleep = sleep
        self._rand = rand
        self._discovery = SingleFlight(self._discover_once)

    @property
    def token_url(self) -> str | None:
        """The configured or discovered token URL; None until discovery succeeded."""
        return self._configured or self._discovered

    async def resolve(self) -> str:
        """The token URL: configured, else discovered, else the default path.

        Every caller that finds no answer yet waits for the same discovery (one request in
        flight, however many passes start at once); a failure is remembered for
        `rediscover_after` seconds, during which the default path is answered without a call.
        """
        if self._configured:
            return self._configured
        if self._discovered:
            return self._discovered
        default = self._base_url + DEFAULT_TOKEN_PATH
        if self._fallback_until is not None and self._clock() < self._fallback_until:
            return default
        found = await self._discovery()
        return found if found is not None else default

    async def _discover_once(self) -> str | None:
        """One discovery (with its retries); records the outcome for every later caller.
        Anything but an `IdentityError` (the leadership fence) records nothing."""
        try:
            found = await call_with_retries(
                self._discover,
                idempotent=True,
                policy=self._discovery_policy,
                describe=f"GET {DISCOVERY_PATH}",
                sleep=self._sleep,
                rand=self._rand,
            )
        except IdentityError as exc:
            log.warning("token discovery failed, using %s: %s", DEFAULT_TOKEN_PATH, exc.message)
            found = None
        if found is not None:
            self._discovered = found
            self._fallback_until = None
        else:
            # Not asked again on every call while discovery is down, but not given up on either.
            self._fallback_until = self._clock() + self._rediscover_after
        return found

    async def _discover(self) -> str | None:
        """One discovery request. Raises `Transient` for what is worth asking again (no
        answer, 408, 429, 5xx); None when the service answered without a usable endpoint."""
        url = self._base_url + DISCOVERY_PATH
        response = await self._transport.send("GET", "discovery", url, path=DISCOVERY_PATH)
        endpoint: Any = None
        document: Any = None
        if response.status_code == 200:
            try:
                document = response.json()
            except ValueError:
                document = None
            if isinstance(document, dict):
                endpoint = document.get("token_endpoint")
        else:
            error = error_from_status(
                method="GET",
                path=DISCOVERY_PATH,
                status=response.status_code,
                body=None,
                kind=ResourceKind.TOKEN,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
            if isinstance(error, Transient):
                raise error
        if isinstance(endpoint, str) and urlsplit(endpoint).scheme in ("http", "https"):
            log.debug("discovered token endpoint %s", _path_of(endpoint))
            return endpoint
        log.warning(
            "token discovery answered %s without a usable token_endpoint, using %s",
            response.status_code,
            DEFAULT_TOKEN_PATH,
            extra={
                "identity_method": "GET",
                "identity_path": DISCOVERY_PATH,
                "identity_status": response.status_code,
                "identity_operation_id": None,
            },
        )
        return None

    async def aclose(self) -> None:
        await self._discovery.aclose()

    async def request_token(
        self, client_id: str, client_secret: SecretStr | str, *, retry: bool = True
    ) -> Token:
        """A fresh token for these credentials (not cached). Transient failures are retried
        unless `retry` is False (then they raise `Transient`, marked safe to resend).

        Raises `InvalidClientCredentials` when the endpoint refuses them.
        """
        secret = client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        url = await self.resolve()
        path = _path_of(url)

        async def attempt() -> Token:
            form = {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret.get_secret_value(),
            }
            response = await self._transport.send("POST", "token", url, path=path, data=form)
            return _read_token(response, path, client_id)

        if not retry:
            return await attempt()
        # A token request creates nothing on the server, so resending it is always safe.
        return await call_with_retries(
            attempt,
            idempotent=True,
            policy=self._policy,
            describe=f"token request for client {client_id}",
            sleep=self._sleep,
            rand=self._rand,
        )


def _read_token(response: httpx.Response, path: str, client_id: str) -> Token:
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if status == 200:
        token = _parse_token(body)
        if token is None:
            raise UnexpectedResponse(
                describe(
                    "POST", path, status, summary="token answer without a usable access_token"
                ),
                method="POST",
                path=path,
                status=status,
            )
        return token
    code = body.get("error") if isinstance(body, dict) else None
    code = code if isinstance(code, str) else None
    if status == 401 or (status == 400 and code in _REFUSED):
        raise InvalidClientCredentials(
            describe(
                "POST", path, status, summary=f"token refused for client {client_id}", error=code
            ),
            method="POST",
            path=path,
            status=status,
            error=code,
        )
    if status == 400:
        raise InvalidInput(
            describe("POST", path, status, summary="token request rejected", error=code),
            method="POST",
            path=path,
            status=status,
            error=code,
        )
    error = error_from_status(
        method="POST",
        path=path,
        status=status,
        body=body,
        kind=ResourceKind.TOKEN,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
    if isinstance(error, Transient):
        # Nothing is created by a token request, so any transient failure may be resent.
        error.not_processed = True
    raise error


def _parse_token(body: Any) -> Token | None:
    # Built field by field so that a malformed answer never lands in a validation error
    # message (which would quote the access token).
    if not isinstance(body, dict):
        return None
    access = body.get("access_token")
    if not isinstance(access, str) or not access:
        return None
    raw_ttl = body.get("expires_in", 3600)
    try:
        ttl = float(raw_ttl)
    except (TypeError, ValueError):
        ttl = 3600.0
    if not math.isfinite(ttl) or ttl < 0:
        ttl = 0.0
    token_type = body.get("token_type")
    return Token(
        access_token=SecretStr(access),
        token_type=token_type if isinstance(token_type, str) else "Bearer",
        expires_in=ttl,
        expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
    )


class TokenCache:
    """One token for many callers, renewed before it expires.

    `fetch` gets a new token; it runs at most once at a time, and every caller waiting for
    a token shares its result (or its error). The renewal point is measured on `clock`
    (monotonic), so wall-clock jumps do not matter.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        clock: Callable[[], float] = time.monotonic,
        renew_margin: float = 60.0,
        renew_ratio: float = 0.1,
        refusal_hold: float = 0.0,
        on_proved: Callable[[], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._renew_margin = renew_margin
        self._renew_ratio = renew_ratio
        self._token: Token | None = None
        self._renew_at = 0.0
        self._refreshing = SingleFlight(self._refresh)
        # A refusal of these credentials is answered from memory for `refusal_hold` seconds:
        # credentials that name someone else's client must not turn into a stream of failed
        # logins under that client's name (one per pass and retry).
        self._refusal_hold = refusal_hold
        self._refused: tuple[InvalidClientCredentials, float] | None = None
        self._on_proved = on_proved
        self.proved = False  # these credentials obtained a token at least once

    def margin(self, lifetime: float) -> float:
        """How long before expiry a token is renewed."""
        return min(self._renew_margin, self._renew_ratio * lifetime)

    def current(self) -> Token | None:
        """The cached token if it is still usable (not within the renewal margin)."""
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        return None

    async def get(self) -> Token:
        token = self.current()
        if token is not None:
            return token
        if self._refused is not None and self._clock() < self._refused[1]:
            raise self._refused[0].with_traceback(None)
        return await self._refreshing()

    def forget_refusal(self) -> None:
        """Ask the token endpoint again at the next call, even within the hold (the tenant
        check, which runs once per hold period, is the one caller that retries)."""
        self._refused = None

    def invalidate(self, token: Token | None = None) -> None:
        """Forget `token` (or whatever is cached). A newer token than `token` is kept."""
        if token is None or token is self._token:
            self._token = None
            self._renew_at = 0.0

    async def _refresh(self) -> Token:
        started = self._clock()
        try:
            token = await self._fetch()
        except InvalidClientCredentials as exc:
            if self._refusal_hold > 0:
                self._refused = (exc, self._clock() + self._refusal_hold)
            raise
        self._refused = None
        self._token = token
        self._renew_at = started + token.expires_in - self.margin(token.expires_in)
        if not self.proved:
            self.proved = True
            if self._on_proved is not None:
                self._on_proved()
        return token

    async def aclose(self) -> None:
        await self._refreshing.aclose()
