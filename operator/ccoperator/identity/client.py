"""`IdentityClient`: the typed async client of the identity API.

One instance per event loop, shared by all handlers: it holds the connection pool, the token
cache and the concurrency bound. Every call:
1. takes a token from the cache (renewed before expiry; concurrent callers share a request),
2. sends the request, bounded by `max_concurrency` in-flight exchanges,
3. on 401 drops that token, takes a new one and resends once (a 401 means the server did
   nothing, so even a create may be resent), then gives up with `Unauthorized`,
4. maps any other non-2xx to a typed error (`errors.py`) and retries per `retry.py`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from . import paths
from .errors import (
    Conflict,
    IdentityError,
    NotFound,
    OutcomeUnknown,
    Transient,
    Unauthorized,
    UnexpectedResponse,
    describe,
    error_from_status,
)
from .models import (
    ClientCreate,
    ClientDto,
    ClientList,
    CreatedClient,
    MultiStatus,
    SecretCreate,
    SecretInfo,
    Token,
)
from .retry import Random, RetryPolicy, Sleep, call_with_retries, parse_retry_after
from .tokens import TokenCache, TokenEndpoint
from .transport import OnCall, Transport

log = logging.getLogger("ccoperator.identity")

T = TypeVar("T")

_CLIENTS = TypeAdapter(list[ClientDto])
_SECRETS = TypeAdapter(list[SecretInfo])


class IdentityConfig(BaseModel):
    """How to reach and authenticate to the identity service.

    Timeouts, `max_connections` and `max_concurrency` shape the HTTP client built by
    `IdentityClient`; when a pre-built `httpx.AsyncClient` is passed in, its own timeouts and
    limits apply instead and only `max_concurrency` is used from here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(description="service base URL; API paths start below it")
    client_id: str
    client_secret: SecretStr
    token_url: str | None = Field(default=None, description="set to skip discovery")
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=32, ge=1)
    max_concurrency: int = Field(default=16, ge=1, description="in-flight calls at most")
    max_retries: int = Field(default=5, ge=0, description="resends after the first attempt")
    backoff_base: float = Field(default=0.2, ge=0)
    backoff_cap: float = Field(default=10.0, ge=0)
    max_retry_after: float = Field(
        default=60.0, ge=0, description="longer Retry-After: fail Transient instead of waiting"
    )
    token_renew_margin: float = Field(default=60.0, ge=0)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            base=self.backoff_base,
            cap=self.backoff_cap,
            max_retry_after=self.max_retry_after,
        )

    def build_http(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.read_timeout,
            pool=self.read_timeout,
        )
        limits = httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_connections,
        )
        return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)


class IdentityClient:
    """Async client of the ClientCredentialClient and secrets API of one identity service."""

    def __init__(
        self,
        config: IdentityConfig,
        *,
        http: httpx.AsyncClient | None = None,
        on_call: OnCall | None = None,
        sleep: Sleep = asyncio.sleep,
        rand: Random = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else config.build_http()
        self._transport = Transport(
            self._http, max_concurrency=config.max_concurrency, on_call=on_call, clock=clock
        )
        self._policy = config.retry_policy()
        self._sleep = sleep
        self._rand = rand
        self._endpoint = TokenEndpoint(
            self._transport,
            self._base,
            token_url=config.token_url,
            policy=self._policy,
            sleep=sleep,
            rand=rand,
            clock=clock,
        )
        self._tokens = TokenCache(
            self._fetch_own_token, clock=clock, renew_margin=config.token_renew_margin
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop any token request and close the HTTP client if this instance built it."""
        await self._tokens.aclose()
        if self._owns_http:
            await self._http.aclose()

    # -- tokens ----------------------------------------------------------------------------

    @property
    def token_url(self) -> str | None:
        """The token endpoint in use: configured, or discovered (None before discovery)."""
        return self._endpoint.token_url

    async def discover_token_url(self) -> str:
        """Resolve the token endpoint now (discovery, or the default when it fails)."""
        return await self._endpoint.resolve()

    async def request_token(self, client_id: str, client_secret: SecretStr | str) -> Token:
        """A new token for someone else's credentials: proves that a client id and secret
        authenticate. Raises `InvalidClientCredentials` when they do not. Not cached."""
        return await self._endpoint.request_token(client_id, client_secret)

    async def _fetch_own_token(self) -> Token:
        # One attempt only: the call that needs the token runs the retry loop, so a failing
        # token endpoint is retried once per backoff step, not retries x retries times.
        return await self._endpoint.request_token(
            self.config.client_id, self.config.client_secret, retry=False
        )

    # -- clients ---------------------------------------------------------------------------

    async def create_client(self, tenant_id: str, body: ClientCreate) -> CreatedClient:
        """Create a client; the answer holds its only copy of the secret.

        Never resent after the request may have reached the server: a timeout, a dropped
        connection or a 5xx raise `OutcomeUnknown`; set `body.client_id` and resolve by
        `get_client`. Raises `Conflict` when the id is taken, `TenantNotFound`, `Forbidden`,
        `InvalidInput`.
        """
        route = paths.clients_create(tenant_id)
        response = await self._call(route, json=body.to_wire())
        return self._parse(route, response, CreatedClient.model_validate)

    async def get_client(self, tenant_id: str, client_id: str) -> ClientDto:
        """Raises `ClientNotFound` or `TenantNotFound` when absent."""
        route = paths.clients_get(tenant_id, client_id)
        response = await self._call(route)
        return self._parse(route, response, ClientDto.model_validate)

    async def list_clients(self, tenant_id: str, *, page_size: int = 100) -> ClientList:
        """Every client of the tenant, page by page (`skip`/`count`) until a short page.

        A 207 page adds its `Data` and `ChildErrors` and makes the result `partial`: the
        clients named there exist but could not be read, so absence from a partial list
        means nothing. Ids are de-duplicated (pages can shift while clients are created or
        deleted concurrently).
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        route = paths.clients_list(tenant_id)
        result = ClientList()
        seen: set[str] = set()
        skip = 0
        while True:
            params: dict[str, str | int] = {"query": "", "skip": skip, "count": page_size}
            response = await self._call(route, params=params)
            page = self._parse_list_page(route, response)
            data, child_errors = page.data, page.child_errors
            if response.status_code == 207:
                result.partial = True
                log.warning(
                    "GET %s: 207 partial page at skip=%d: %d read, %d unreadable [operation %s]",
                    route.path,
                    skip,
                    len(data),
                    len(child_errors),
                    page.operation_id,
                    extra=_log_fields(route, 207, page.operation_id),
                )
            result.child_errors.extend(child_errors)
            fresh = [item for item in data if item.client_id not in seen]
            seen.update(item.client_id for item in fresh)
            result.items.extend(fresh)
            # A client that could not be read still took a place on the page.
            page_len = len(data) + len(child_errors)
            if page_len < page_size:
                return result
            if not fresh and not child_errors:
                # A full page of nothing new: the server ignores `skip`, or the list moves
                # under us. Stop rather than loop, and say the read is incomplete.
                log.warning(
                    "GET %s: page at skip=%d repeats earlier clients; stopping, list partial",
                    route.path,
                    skip,
                )
                result.partial = True
                return result
            skip += page_len

    async def update_client(self, tenant_id: str, client_id: str, body: ClientDto) -> ClientDto:
        """Replace name, roles and enabled. Raises `ClientNotFound`, `TenantNotFound`,
        `InvalidInput` (e.g. an unknown role id), `Forbidden`."""
        route = paths.clients_update(tenant_id, client_id)
        response = await self._call(route, json=body.to_wire())
        if not response.content:
            return body
        return self._parse(route, response, ClientDto.model_validate)

    async def delete_client(self, tenant_id: str, client_id: str) -> None:
        """Delete a client and its secrets. Raises `ClientNotFound` when it is not there;
        a caller that wants it gone treats that as done (a retried DELETE whose first
        attempt succeeded also ends there)."""
        await self._call(paths.clients_delete(tenant_id, client_id))

    # -- secrets ---------------------------------------------------------------------------

    async def list_secrets(self, tenant_id: str, client_id: str) -> list[SecretInfo]:
        route = paths.secrets_list(tenant_id, client_id)
        response = await self._call(route)
        return self._parse(route, response, _SECRETS.validate_python)

    async def get_secret(self, tenant_id: str, client_id: str, secret_id: int) -> SecretInfo:
        """Raises `SecretNotFound`, `ClientNotFound` or `TenantNotFound` when absent."""
        route = paths.secrets_get(tenant_id, client_id, secret_id)
        response = await self._call(route)
        return self._parse(route, response, SecretInfo.model_validate)

    async def add_secret(self, tenant_id: str, client_id: str, body: SecretCreate) -> SecretInfo:
        """Issue a new secret; returns it with its value (the only time the value is seen).

        Like create, never resent blindly: `OutcomeUnknown` when it may have happened
        (resolve by `list_secrets`: a secret nobody holds the value of can be deleted).
        """
        route = paths.secrets_add(tenant_id, client_id)
        response = await self._call(route, json=body.to_wire())
        secrets = self._parse(route, response, _secret_list)
        issued = [secret for secret in secrets if secret.value is not None]
        if not issued:
            raise OutcomeUnknown(
                describe(
                    route.method,
                    route.path,
                    response.status_code,
                    summary="secret added, but the answer holds no value; "
                    "list the secrets and delete the one nobody holds",
                ),
                method=route.method,
                path=route.path,
                status=response.status_code,
            )
        return max(issued, key=lambda secret: secret.id)

    async def update_secret(
        self, tenant_id: str, client_id: str, secret_id: int, body: SecretCreate
    ) -> SecretInfo:
        """Change description and expiration (None: never expires)."""
        route = paths.secrets_update(tenant_id, client_id, secret_id)
        response = await self._call(route, json=body.to_wire())
        return self._parse(route, response, SecretInfo.model_validate)

    async def delete_secret(
        self, tenant_id: str, client_id: str, secret_id: int
    ) -> list[SecretInfo]:
        """Delete one secret; returns the client's remaining secrets."""
        route = paths.secrets_delete(tenant_id, client_id, secret_id)
        response = await self._call(route)
        if not response.content:
            return []
        return self._parse(route, response, _secret_list)

    # -- plumbing --------------------------------------------------------------------------

    async def _call(
        self,
        route: paths.Route,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        """Send `route` with a token, refresh once on 401, retry per policy; a 2xx answer."""
        url = self._base + route.path

        async def attempt() -> httpx.Response:
            token = await self._tokens.get()
            response = await self._send(route, url, token, json, params)
            if response.status_code == 401:
                # Expired early, revoked, or the server restarted: one fresh token, one resend.
                log.info(
                    "%s %s: 401, renewing the token and resending once",
                    route.method,
                    route.path,
                    extra=_log_fields(route, 401, None),
                )
                self._tokens.invalidate(token)
                token = await self._tokens.get()
                response = await self._send(route, url, token, json, params)
            if response.is_success:
                return response
            raise self._error(route, response)

        try:
            return await call_with_retries(
                attempt,
                idempotent=route.idempotent,
                policy=self._policy,
                describe=f"{route.method} {route.path}",
                sleep=self._sleep,
                rand=self._rand,
            )
        except IdentityError as exc:
            # Absence and conflicts are everyday answers for a reconciler; the rest is news.
            level = logging.INFO if isinstance(exc, NotFound | Conflict) else logging.WARNING
            if not isinstance(exc, Transient):  # exhausted retries were logged by the loop
                log.log(
                    level,
                    "%s failed: %s",
                    route.name,
                    exc.message,
                    extra=_log_fields(route, exc.status, exc.operation_id),
                )
            raise

    async def _send(
        self,
        route: paths.Route,
        url: str,
        token: Token,
        json: Any,
        params: Mapping[str, str | int] | None,
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

    def _error(self, route: paths.Route, response: httpx.Response) -> IdentityError:
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

    def _parse(self, route: paths.Route, response: httpx.Response, read: Callable[[Any], T]) -> T:
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
            extra=_log_fields(route, response.status_code, None),
        )
        raise error

    def _parse_list_page(self, route: paths.Route, response: httpx.Response) -> MultiStatus:
        if response.status_code == 207:
            return self._parse(route, response, _multi_status)
        return MultiStatus(data=self._parse(route, response, _CLIENTS.validate_python))


def _multi_status(body: Any) -> MultiStatus:
    # Tolerance: a 207 whose body is a bare list is all data and no errors.
    if isinstance(body, list):
        return MultiStatus(data=_CLIENTS.validate_python(body))
    return MultiStatus.model_validate(body)


def _secret_list(body: Any) -> list[SecretInfo]:
    # The contract answers a list; a single object is accepted as a list of one.
    if isinstance(body, dict):
        return [SecretInfo.model_validate(body)]
    return _SECRETS.validate_python(body)


def _validation_summary(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in err['loc']) or 'body'}: {err['type']}"
            for err in exc.errors(include_input=False, include_url=False)[:5]
        ]
        return "; ".join(problems)
    return "not JSON"


def _log_fields(route: paths.Route, status: int | None, operation_id: str | None) -> dict[str, Any]:
    return {
        "identity_method": route.method,
        "identity_path": route.path,
        "identity_status": status,
        "identity_operation_id": operation_id,
    }
