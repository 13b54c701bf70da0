"""Where tokens come from: discovery of the token endpoint, and the client-credentials grant.

- Discovery reads `token_endpoint` from `{base}/identity/.well-known/openid-configuration`.
  A configured token URL skips it. Concurrent callers share one discovery in flight; a
  transient failure (timeout, 429, 5xx) is retried a few times within it. When it still fails,
  `{base}/identity/connect/token` is used and discovery is tried again after
  `rediscover_after` seconds (only a success is kept for good).
- The grant posts the client id and secret and reads the answer field by field: a refusal is
  `InvalidClientCredentials`, a malformed answer never quotes the access token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
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
from .single_flight import SingleFlight
from .transport import Transport

log = logging.getLogger("ccoperator.identity")

# OAuth error codes that mean "these credentials do not get a token" (RFC 6749, 5.2).
_REFUSED = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})


def _path_of(url: str) -> str:
    # Logged and put into errors instead of the URL: never any userinfo or query.
    return urlsplit(url).path or "/"


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
