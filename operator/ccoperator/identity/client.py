"""`IdentityClient`: the typed async client of the identity API.

One instance per event loop, shared by all handlers: it holds the connection pool, the token
cache and the concurrency bound. What every call goes through (a token, one resend after a
401, typed errors, retries) is `calls.py`; how lists are paged is `listing.py`; where tokens
come from is `token_endpoint.py`.

Paths, bodies and answers go through the instance's API form (`config.api_version`,
`forms/`): the methods and models are the same whichever form the service speaks.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import httpx
from pydantic import SecretStr

from .calls import Caller, parse_body
from .config import IdentityConfig
from .errors import NotSupported, OutcomeUnknown, describe
from .forms import form_for
from .listing import list_all_clients, list_all_roles, list_clients_by_id
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
from .retry import Random, Sleep
from .token_endpoint import TokenEndpoint
from .tokens import TokenCache
from .transport import OnCall, Transport
from .version import ApiVersion


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
        base = config.base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else config.build_http()
        transport = Transport(
            self._http, max_concurrency=config.max_concurrency, on_call=on_call, clock=clock,
            guard=guard,
        )
        policy = config.retry_policy()
        self._endpoint = TokenEndpoint(
            transport,
            base,
            token_url=config.token_url,
            policy=policy,
            sleep=sleep,
            rand=rand,
            clock=clock,
        )
        self._tokens = TokenCache(
            self._fetch_own_token, clock=clock, renew_margin=config.token_renew_margin,
            refusal_hold=config.token_refusal_hold, on_proved=on_proved,
        )
        self._call = Caller(transport, base, self._tokens, policy=policy, sleep=sleep, rand=rand)

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
        return parse_body(route, response, self._form.read_created)

    async def get_client(self, tenant_id: str, client_id: str) -> ClientDto:
        """Raises `ClientNotFound` or `TenantNotFound` when absent."""
        route = self._paths.clients_get(tenant_id, client_id)
        response = await self._call(route)
        return parse_body(route, response, self._form.read_client)

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
            return await list_all_clients(self._call, self._form, route, page_size)
        wanted = list(dict.fromkeys(i for i in ids if i.strip()))
        if not wanted:
            return ClientList()
        if not self._form.filters_by_id:
            listed = await list_all_clients(self._call, self._form, route, page_size)
            return listed.only(set(wanted))
        return await list_clients_by_id(self._call, self._form, route, wanted, page_size)

    async def update_client(self, tenant_id: str, client_id: str, body: ClientDto) -> ClientDto:
        """Set name, roles and enabled (v1 also `access_token_lifetime` and `tags`, when not
        None: the v1 form leaves what is not sent as it is). Raises `ClientNotFound`,
        `TenantNotFound`, `InvalidInput` (e.g. an unknown role id), `Forbidden`."""
        route = self._paths.clients_update(tenant_id, client_id)
        response = await self._call(route, json=self._form.update_body(body))
        if not response.content:
            return body
        return parse_body(route, response, self._form.read_client)

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
        return await list_all_roles(self._call, self._form, route, page_size)

    # -- secrets ---------------------------------------------------------------------------

    async def list_secrets(self, tenant_id: str, client_id: str) -> list[SecretInfo]:
        route = self._paths.secrets_list(tenant_id, client_id)
        response = await self._call(route)
        return parse_body(route, response, self._form.read_secrets)

    async def get_secret(self, tenant_id: str, client_id: str, secret_id: int) -> SecretInfo:
        """Raises `SecretNotFound`, `ClientNotFound` or `TenantNotFound` when absent."""
        route = self._paths.secrets_get(tenant_id, client_id, secret_id)
        response = await self._call(route)
        return parse_body(route, response, self._form.read_secret)

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
        secrets, complete = parse_body(
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
        return parse_body(route, response, self._form.read_secret)

    async def delete_secret(
        self, tenant_id: str, client_id: str, secret_id: int
    ) -> list[SecretInfo]:
        """Delete one secret; returns the client's remaining secrets when the form answers
        them (unversioned), else an empty list (v1 answers 204)."""
        route = self._paths.secrets_delete(tenant_id, client_id, secret_id)
        response = await self._call(route)
        if not response.content:
            return []
        return parse_body(route, response, self._form.read_added_secrets)
