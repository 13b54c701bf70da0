"""`IdentityClient`: the typed async client of the identity API.

One instance per event loop, shared by all handlers: it holds the connection pool, the token
cache and the concurrency bound. Every call:
1. takes a token from the cache (renewed before expiry; concurrent callers share a request),
2. sends the request, bounded by `max_concurrency` in-flight exchanges,
3. on 401 drops that token, takes a new one and resends once (a 401 means the server did
   nothing, so even a create may be resent), then gives up with `Unauthorized`,
4. maps any other non-2xx to a typed error (`errors.py`) and retries per `retry.py`.

Paths, bodies and answers go through the instance's API form (`config.api_version`,
`forms/`): the methods and models are the same whichever form the service speaks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from . import paths
from .errors import (
    ClientNotFound,
    Conflict,
    IdentityError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    SecretNotFound,
    Transient,
    Unauthorized,
    UnexpectedResponse,
    describe,
    error_from_status,
)
from .forms import form_for
from .listing import id_chunks, total_count
from .models import (
    AddedSecret,
    ClientCreate,
    ClientDto,
    ClientList,
    CreatedClient,
    Role,
    SecretCreate,
    SecretInfo,
    Token,
)
from .retry import Random, RetryPolicy, Sleep, call_with_retries, parse_retry_after
from .token_endpoint import TokenEndpoint
from .tokens import TokenCache
from .transport import OnCall, Params, Transport
from .version import ApiVersion

log = logging.getLogger("ccoperator.identity")

T = TypeVar("T")


class IdentityConfig(BaseModel):
    """How to reach and authenticate to the identity service.

    Timeouts, `max_connections` and `max_concurrency` shape the HTTP client built by
    `IdentityClient`; when a pre-built `httpx.AsyncClient` is passed in, its own timeouts and
    limits apply instead and only `max_concurrency` is used from here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(description="service base URL; API paths start below it")
    api_version: ApiVersion = Field(
        default=ApiVersion.UNVERSIONED, description="which form of the API the service speaks"
    )
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
    token_refusal_hold: float = Field(
        default=0.0, ge=0,
        description="seconds a refused token request is answered from memory (no new request)",
    )

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
        guard: Callable[[], None] | None = None,
        on_proved: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._form = form_for(config.api_version)
        self._paths = self._form.paths
        self._base = config.base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else config.build_http()
        self._transport = Transport(
            self._http, max_concurrency=config.max_concurrency, on_call=on_call, clock=clock,
            guard=guard,
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
            self._fetch_own_token, clock=clock, renew_margin=config.token_renew_margin,
            refusal_hold=config.token_refusal_hold, on_proved=on_proved,
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
        await self._endpoint.aclose()
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

    @property
    def proved(self) -> bool:
        """Whether this client's credentials obtained a token at least once: whoever wrote
        them holds that client's secret."""
        return self._tokens.proved

    def forget_token_refusal(self) -> None:
        """Let the next call ask for a token even if a refusal is still held."""
        self._tokens.forget_refusal()

    async def _fetch_own_token(self) -> Token:
        # One attempt only: the call that needs the token runs the retry loop, so a failing
        # token endpoint is retried once per backoff step, not retries x retries times.
        return await self._endpoint.request_token(
            self.config.client_id, self.config.client_secret, retry=False
        )

    @property
    def api_version(self) -> ApiVersion:
        return self._form.version

    # -- clients ---------------------------------------------------------------------------

    async def create_client(self, tenant_id: str, body: ClientCreate) -> CreatedClient:
        """Create a client; the answer holds its only copy of the secret.

        Never resent after the request may have reached the server: a timeout, a dropped
        connection, a 408 or a 5xx raise `OutcomeUnknown`; set `body.client_id` and resolve
        by `get_client`. Raises `Conflict` when the id is taken, `TenantNotFound`, `Forbidden`,
        `InvalidInput` (v1: `MemberRoleRequired` when `role_ids` lack the Member role).
        """
        route = self._paths.clients_create(tenant_id)
        response = await self._call(route, json=self._form.create_body(body))
        return self._parse(route, response, self._form.read_created)

    async def get_client(self, tenant_id: str, client_id: str) -> ClientDto:
        """Raises `ClientNotFound` or `TenantNotFound` when absent."""
        route = self._paths.clients_get(tenant_id, client_id)
        response = await self._call(route)
        return self._parse(route, response, self._form.read_client)

    async def list_clients(
        self, tenant_id: str, *, page_size: int = 100, ids: Sequence[str] | None = None
    ) -> ClientList:
        """Every client of the tenant, page by page (`skip`/`count`); with `ids`, only those.

        A 207 page adds its `Data` and `ChildErrors` and makes the result `partial`: the
        clients named there exist but could not be read, so absence from a partial list
        means nothing. Ids are de-duplicated (pages can shift while clients are created or
        deleted concurrently). The v1 form sends `ids` as its `id` filter (in chunks that
        keep each URL short); the unversioned form has none, so it lists all and filters.
        """
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if isinstance(ids, str):
            raise TypeError("ids must be a sequence of ids, not one string")
        route = self._paths.clients_list(tenant_id)
        if ids is None:
            return await self._list_all(route, page_size)
        wanted = list(dict.fromkeys(i for i in ids if i.strip()))
        if not wanted:
            return ClientList()
        if not self._form.filters_by_id:
            return (await self._list_all(route, page_size)).only(set(wanted))
        result = ClientList()
        for chunk in id_chunks(wanted, max_ids=page_size):
            # The service ignores skip and count when ids are given: one call per chunk.
            page, _ = await self._list_page(route, {"id": chunk}, skip=0)
            result.extend(page)
        return result.only(set(wanted))

    async def _list_all(self, route: paths.Route, page_size: int) -> ClientList:
        result = ClientList()
        skip = 0
        while True:
            params: Params = {"query": "", "skip": skip, "count": page_size}
            page, total = await self._list_page(route, params, skip=skip)
            before = len(result.items)
            result.extend(page)
            fresh = len(result.items) - before
            # A client that could not be read still took a place on the page.
            page_len = len(page.items) + len(page.child_errors)
            if page_len < page_size:
                return result
            if total is not None and skip + page_len >= total:
                # v1 says how many there are: no need for a last, empty page.
                return result
            if not fresh and not page.child_errors:
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

    async def _list_page(
        self, route: paths.Route, params: Params, *, skip: int
    ) -> tuple[ClientList, int | None]:
        """One page as a `ClientList`, and the `Total-Count` the service answered (if any)."""
        response = await self._call(route, params=params)
        status = response.status_code
        page = self._parse(route, response, lambda data: self._form.read_list_page(status, data))
        if status == 207:
            log.warning(
                "GET %s: 207 partial page at skip=%d: %d read, %d unreadable [operation %s]",
                route.path,
                skip,
                len(page.data),
                len(page.child_errors),
                page.operation_id,
                extra=_log_fields(route, 207, page.operation_id),
            )
        listed = ClientList(items=[], child_errors=list(page.child_errors), partial=status == 207)
        listed.extend(ClientList(items=list(page.data)))
        return listed, total_count(response.headers.get("Total-Count"))

    async def update_client(self, tenant_id: str, client_id: str, body: ClientDto) -> ClientDto:
        """Set name, roles and enabled (v1 also `access_token_lifetime` and `tags`, when not
        None: the v1 form leaves what is not sent as it is). Raises `ClientNotFound`,
        `TenantNotFound`, `InvalidInput` (e.g. an unknown role id), `Forbidden`."""
        route = self._paths.clients_update(tenant_id, client_id)
        response = await self._call(route, json=self._form.update_body(body))
        if not response.content:
            return body
        return self._parse(route, response, self._form.read_client)

    async def delete_client(self, tenant_id: str, client_id: str) -> None:
        """Delete a client and its secrets. Raises `ClientNotFound` when it is not there;
        a caller that wants it gone treats that as done (a retried DELETE whose first
        attempt succeeded also ends there)."""
        await self._call(self._paths.clients_delete(tenant_id, client_id))

    # -- roles -----------------------------------------------------------------------------

    async def list_roles(self, tenant_id: str, *, page_size: int = 100) -> list[Role]:
        """The tenant's roles (v1 only). Raises `NotSupported` on the unversioned form,
        which has no roles endpoint, before sending anything."""
        route = self._paths.roles_list(tenant_id)
        if route is None:
            raise NotSupported(
                f"the {self._form.version} form of the identity API has no roles endpoint; "
                "role ids come from configuration there"
            )
        roles: list[Role] = []
        seen: set[str] = set()
        skip = 0
        while True:
            params: Params = {"skip": skip, "count": page_size}
            response = await self._call(route, params=params)
            page = self._parse(route, response, self._form.read_roles)
            roles.extend(role for role in page if role.id not in seen)
            seen.update(role.id for role in page)
            total = total_count(response.headers.get("Total-Count"))
            skip += len(page)
            if len(page) < page_size or (total is not None and skip >= total):
                return roles

    # -- secrets ---------------------------------------------------------------------------

    async def list_secrets(self, tenant_id: str, client_id: str) -> list[SecretInfo]:
        route = self._paths.secrets_list(tenant_id, client_id)
        response = await self._call(route)
        return self._parse(route, response, self._form.read_secrets)

    async def get_secret(self, tenant_id: str, client_id: str, secret_id: int) -> SecretInfo:
        """Raises `SecretNotFound`, `ClientNotFound` or `TenantNotFound` when absent."""
        route = self._paths.secrets_get(tenant_id, client_id, secret_id)
        response = await self._call(route)
        return self._parse(route, response, self._form.read_secret)

    async def add_secret(self, tenant_id: str, client_id: str, body: SecretCreate) -> SecretInfo:
        """Issue a new secret; returns it with its value (the only time the value is seen).

        Like create, never resent blindly: `OutcomeUnknown` when it may have happened
        (resolve by `list_secrets`: a secret nobody holds the value of can be deleted).
        """
        return (await self.add_secret_listing(tenant_id, client_id, body)).secret

    async def add_secret_listing(
        self, tenant_id: str, client_id: str, body: SecretCreate
    ) -> AddedSecret:
        """`add_secret`, also returning the client's secrets after the add when the answer
        holds them (the unversioned form), which spares a `list_secrets` to find the secrets
        nobody holds. Raises like `add_secret` (`ClientNotFound` when the client is absent)."""
        route = self._paths.secrets_add(tenant_id, client_id)
        response = await self._call(route, json=self._form.add_secret_body(body))
        secrets, complete = self._parse(
            route,
            response,
            lambda data: (self._form.read_added_secrets(data), self._form.added_lists_all(data)),
        )
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
        new = max(issued, key=lambda secret: secret.id)
        return AddedSecret(secret=new, secrets=tuple(secrets) if complete else None)

    async def update_secret(
        self, tenant_id: str, client_id: str, secret_id: int, body: SecretCreate
    ) -> SecretInfo:
        """Change what `body` sets: description, expiration (set to None: never expires)."""
        route = self._paths.secrets_update(tenant_id, client_id, secret_id)
        response = await self._call(route, json=self._form.update_secret_body(body))
        return self._parse(route, response, self._form.read_secret)

    async def delete_secret(
        self, tenant_id: str, client_id: str, secret_id: int
    ) -> list[SecretInfo]:
        """Delete one secret; returns the client's remaining secrets when the form answers
        them (unversioned), else an empty list (v1 answers 204)."""
        route = self._paths.secrets_delete(tenant_id, client_id, secret_id)
        response = await self._call(route)
        if not response.content:
            return []
        return self._parse(route, response, self._form.read_added_secrets)

    # -- plumbing --------------------------------------------------------------------------

    async def _call(
        self,
        route: paths.Route,
        *,
        json: Any = None,
        params: Params | None = None,
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
                    extra=_log_fields(route, exc.status, exc.operation_id),
                )
            raise

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
