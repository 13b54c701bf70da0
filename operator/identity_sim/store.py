"""The simulator's state and every operation on it, served from memory (dict lookups only).

With a `Database` attached, each mutation is committed before the method returns, so an
answer is never sent for a change that a crash could lose."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .auth import Unauthorized, hash_secret, new_access_token, new_secret_value, secret_matches
from .auth import token_key as _token_key
from .dto import ClientFields, SecretFields, Unset, given
from .model import (
    MAX_SECRETS_PER_CLIENT,
    MEMBER_ROLE,
    V1,
    ApiError,
    Client,
    Clock,
    Secret,
    Tenant,
    Token,
    bad_input,
    client_not_found,
    format_datetime,
    secret_not_found,
    tenant_not_found,
)
from .persistence import Database

DEFAULT_TOKEN_TTL = 3600
_PRUNE_EVERY = 1024


class Store:
    def __init__(
        self,
        db: Database | None = None,
        clock: Clock | None = None,
        token_ttl: int = DEFAULT_TOKEN_TTL,
    ) -> None:
        self.db = db
        self.clock = clock or Clock()
        self.token_ttl = token_ttl
        self.tenants: dict[str, Tenant] = {}
        #: every client by ClientId: ids are global because the token endpoint names no tenant
        self.clients: dict[str, Client] = {}
        self.tokens: dict[str, Token] = {}  # token digest -> token
        self.known_role_ids: set[str] = set()
        #: small facts that outlive a restart (e.g. which client the bootstrap made admin)
        self.meta: dict[str, Any] = {}
        self._issued = 0
        if db is not None:
            self._load(db)

    # -- persistence ---------------------------------------------------------------------

    def _load(self, db: Database) -> None:
        loaded = db.load()
        for tenant in loaded.tenants:
            self.tenants[tenant.id] = tenant
        for client in loaded.clients:
            owner = self.tenants.get(client.tenant_id)
            if owner is not None:
                owner.clients[client.client_id] = client
                self.clients[client.client_id] = client
        self.tokens = loaded.tokens
        self.meta = loaded.meta
        self.clock.offset = float(self.meta.get("clock_offset", 0.0))
        self._refresh_role_ids()

    @contextmanager
    def _tx(self) -> Iterator[Database | None]:
        """Group the writes of one mutation; committed (durable) when the block ends."""
        if self.db is None:
            yield None
            return
        try:
            yield self.db
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    # -- admin-level operations ----------------------------------------------------------

    @property
    def empty(self) -> bool:
        return not self.tenants

    def reset(self) -> None:
        """Forget everything: tenants, clients, secrets, tokens, clock offset, meta."""
        with self._tx() as db:
            if db is not None:
                db.wipe()
            self.tenants.clear()
            self.clients.clear()
            self.tokens.clear()
            self.known_role_ids.clear()
            self.meta.clear()
            self.clock.offset = 0.0

    def set_meta(self, key: str, value: Any) -> None:
        with self._tx() as db:
            self.meta[key] = value
            if db is not None:
                db.set_meta(key, value)

    def put_tenant(
        self,
        tenant_id: str,
        roles: dict[str, str],
        api_version: str | None = None,
        max_clients: int | None = None,
    ) -> Tenant:
        """Create a tenant, or merge `roles` (name -> id) into an existing one; the API form
        and client limit change only when given."""
        with self._tx() as db:
            tenant = self.tenants.get(tenant_id)
            if tenant is None:
                tenant = Tenant(tenant_id, dict(roles))
                self.tenants[tenant_id] = tenant
            else:
                tenant.roles.update(roles)
                tenant.refresh_roles()
            if api_version is not None:
                tenant.api_version = api_version
            if max_clients is not None:
                tenant.max_clients = max_clients
            self._refresh_role_ids()
            if db is not None:
                db.save_tenant(tenant)
            return tenant

    def put_client(
        self,
        tenant: Tenant,
        client_id: str,
        name: str,
        role_ids: list[str],
        enabled: bool,
        secret_value: str,
    ) -> Client:
        """Create or overwrite a client so that exactly `secret_value` authenticates it."""
        with self._tx() as db:
            old = self.clients.get(client_id)
            if old is not None:
                self._forget_client(old)
                if db is not None:
                    db.delete_client(client_id)
            client = Client(tenant.id, client_id, name, list(dict.fromkeys(role_ids)), enabled)
            secret = self._new_secret(client, "bootstrap", None, secret_value)
            tenant.clients[client_id] = client
            self.clients[client_id] = client
            if db is not None:
                db.save_client(client)
                db.save_secret(client_id, secret)
            return client

    def advance_clock(self, seconds: float) -> None:
        with self._tx() as db:
            self.clock.offset += seconds
            self.meta["clock_offset"] = self.clock.offset
            if db is not None:
                db.set_meta("clock_offset", self.clock.offset)

    def _refresh_role_ids(self) -> None:
        self.known_role_ids = {rid for t in self.tenants.values() for rid in t.roles.values()}

    def _forget_client(self, client: Client) -> None:
        self.clients.pop(client.client_id, None)
        tenant = self.tenants.get(client.tenant_id)
        if tenant is not None:
            tenant.clients.pop(client.client_id, None)

    # -- tenants and clients -------------------------------------------------------------

    def tenant(self, tenant_id: str, api_version: str | None = None) -> Tenant:
        """The tenant; with `api_version`, only if it speaks that form (a deployment of one
        form does not know the tenants of the other)."""
        tenant = self.tenants.get(tenant_id)
        if tenant is None or (api_version is not None and tenant.api_version != api_version):
            raise tenant_not_found(tenant_id)
        return tenant

    def _check_roles(self, tenant: Tenant, role_ids: list[str]) -> None:
        unknown = [r for r in role_ids if r not in self.known_role_ids]
        if unknown:
            raise bad_input(f"RoleIds: unknown role id(s) {', '.join(unknown)}")
        member = tenant.member_role_id
        if tenant.api_version == V1 and member not in role_ids:
            raise ApiError(
                400,
                "Missing or invalid inputs",
                f"RoleIds: the tenant's Member role ({MEMBER_ROLE}, {member}) is required.",
                f"Add the Member role id {member} to RoleIds.",
            )

    def create_client(
        self, tenant: Tenant, fields: ClientFields, secret: SecretFields
    ) -> tuple[Client, Secret, str]:
        """The new client, its first secret and that secret's value (the only time it exists)."""
        assert fields.name is not None and fields.role_ids is not None
        self._check_roles(tenant, fields.role_ids)
        if tenant.api_version == V1 and len(tenant.clients) >= tenant.max_clients:
            raise bad_input(
                f"Client limit exceeded: a tenant holds at most {tenant.max_clients} clients."
            )
        client_id = fields.client_id if fields.client_id is not None else str(uuid.uuid4())
        if client_id in self.clients:
            raise ApiError(
                409,
                "Client id already in use",
                f"A client with id '{client_id}' already exists.",
                "GET the existing client, or choose another ClientId.",
            )
        with self._tx() as db:
            client = Client(
                tenant.id,
                client_id,
                fields.name,
                fields.role_ids,
                True if fields.enabled is None else fields.enabled,
            )
            if fields.access_token_lifetime is not None:
                client.access_token_lifetime = fields.access_token_lifetime
            if fields.tags is not None:
                client.tags = list(fields.tags)
            value = new_secret_value()
            description = given(secret.description, None)
            expiration = given(secret.expiration, None)
            first = self._new_secret(client, description, expiration, value)
            tenant.clients[client_id] = client
            self.clients[client_id] = client
            if db is not None:
                db.save_client(client)
                db.save_secret(client_id, first)
            return client, first, value

    def get_client(self, tenant: Tenant, client_id: str) -> Client:
        client = tenant.clients.get(client_id)
        if client is None:
            raise client_not_found(client_id)
        return client

    def list_clients(self, tenant: Tenant, skip: int, count: int) -> list[Client]:
        return list(itertools.islice(tenant.clients.values(), skip, skip + count))

    def find_clients(self, tenant: Tenant, ids: list[str]) -> list[Client]:
        """The tenant's clients among `ids`, in list order (unknown ids are left out)."""
        wanted = set(ids)
        if len(wanted) < len(tenant.clients):
            found = [tenant.clients[i] for i in wanted if i in tenant.clients]
            order = {c.client_id: n for n, c in enumerate(tenant.clients.values())}
            return sorted(found, key=lambda c: order[c.client_id])
        return [c for c in tenant.clients.values() if c.client_id in wanted]

    def update_client(self, tenant: Tenant, client_id: str, fields: ClientFields) -> Client:
        """Every field that is not None replaces the client's."""
        client = self.get_client(tenant, client_id)
        role_ids = fields.role_ids if fields.role_ids is not None else client.role_ids
        self._check_roles(tenant, role_ids)
        with self._tx() as db:
            client.json = None
            if fields.name is not None:
                client.name = fields.name
            client.role_ids = list(role_ids)
            if fields.enabled is not None:
                client.enabled = fields.enabled
            if fields.access_token_lifetime is not None:
                client.access_token_lifetime = fields.access_token_lifetime
            if fields.tags is not None:
                client.tags = list(fields.tags)
            if db is not None:
                db.save_client(client)
            return client

    def delete_client(self, tenant: Tenant, client_id: str) -> None:
        """Removes the client and its secrets; tokens already issued stay valid until expiry."""
        client = self.get_client(tenant, client_id)
        with self._tx() as db:
            self._forget_client(client)
            if db is not None:
                db.delete_client(client_id)

    # -- secrets -------------------------------------------------------------------------

    def _new_secret(
        self, client: Client, description: str | None, expiration: datetime | None, value: str
    ) -> Secret:
        salt, digest = hash_secret(value)
        secret = Secret(client.next_secret_id, description, expiration, salt, digest)
        client.secrets[secret.id] = secret
        client.next_secret_id += 1
        return secret

    def get_secret(self, client: Client, secret_id: str) -> Secret:
        secret = client.secrets.get(int(secret_id)) if secret_id.isdigit() else None
        if secret is None:
            raise secret_not_found(secret_id)
        return secret

    def add_secret(self, client: Client, fields: SecretFields) -> tuple[Secret, str]:
        if len(client.secrets) >= MAX_SECRETS_PER_CLIENT:
            raise bad_input(
                f"Secret: a client holds at most {MAX_SECRETS_PER_CLIENT} secrets; delete one first"
            )
        with self._tx() as db:
            value = new_secret_value()
            secret = self._new_secret(
                client,
                given(fields.description, None),
                given(fields.expiration, None),
                value,
            )
            if db is not None:
                db.save_client(client)  # next_secret_id moved
                db.save_secret(client.client_id, secret)
            return secret, value

    def update_secret(self, client: Client, secret_id: str, fields: SecretFields) -> Secret:
        secret = self.get_secret(client, secret_id)
        if fields.must_expire and isinstance(fields.expiration, Unset) and not secret.expiration:
            raise bad_input("Expiration: required when Expires is true and the secret has none")
        with self._tx() as db:
            if not isinstance(fields.description, Unset):
                secret.description = fields.description
            if not isinstance(fields.expiration, Unset):
                secret.expiration = fields.expiration
            if db is not None:
                db.save_secret(client.client_id, secret)
            return secret

    def delete_secret(self, client: Client, secret_id: str) -> None:
        secret = self.get_secret(client, secret_id)
        with self._tx() as db:
            del client.secrets[secret.id]
            if db is not None:
                db.delete_secret(client.client_id, secret.id)

    # -- tokens --------------------------------------------------------------------------

    def issue_token(self, client_id: str, secret_value: str) -> str | None:
        """A new access token, or None when the credentials do not authenticate: unknown or
        disabled client, or no unexpired secret of that client has this value."""
        client = self.clients.get(client_id)
        if client is None or not self.accepts(client, secret_value):
            return None
        token = new_access_token()
        key = _token_key(token)
        lifetime = self.token_lifetime(client_id)
        entry = Token(client_id, frozenset(client.role_ids), self.clock.now() + lifetime)
        with self._tx() as db:
            self.tokens[key] = entry
            if db is not None:
                db.save_token(key, entry)
            self._issued += 1
            if self._issued % _PRUNE_EVERY == 0:
                self._prune_tokens(db)
        return token

    def token_lifetime(self, client_id: str) -> int:
        """Seconds a token issued now lives: the service's, or the client's when shorter."""
        client = self.clients.get(client_id)
        lifetime = client.access_token_lifetime if client is not None else self.token_ttl
        return min(self.token_ttl, lifetime)

    def accepts(self, client: Client, secret_value: str) -> bool:
        """Enabled, and one of its unexpired secrets has this value."""
        if not client.enabled:
            return False
        now = self.clock.now_dt()
        return any(
            not s.expired(now) and secret_matches(s, secret_value) for s in client.secrets.values()
        )

    def _prune_tokens(self, db: Database | None) -> None:
        now = self.clock.now()
        dead = [k for k, t in self.tokens.items() if t.expires_at <= now]
        for key in dead:
            del self.tokens[key]
        if db is not None and dead:
            db.delete_tokens(dead)

    def verify_token(self, token: str) -> Token:
        entry = self.tokens.get(_token_key(token))
        if entry is None or entry.expires_at <= self.clock.now():
            raise Unauthorized
        return entry

    def expire_tokens(self) -> int:
        """Every issued token stops working; answers how many there were."""
        with self._tx() as db:
            count = len(self.tokens)
            self.tokens.clear()
            if db is not None:
                db.delete_tokens()
            return count

    # -- inspection ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.now_dt()
        return {
            "Now": format_datetime(now),
            "ClockOffsetSeconds": self.clock.offset,
            "LiveTokens": sum(1 for t in self.tokens.values() if t.expires_at > self.clock.now()),
            "Tenants": {
                tenant.id: {
                    "ApiVersion": tenant.api_version,
                    "Roles": dict(tenant.roles),
                    "Clients": [
                        {
                            "TenantId": c.tenant_id,
                            "ClientId": c.client_id,
                            "Name": c.name,
                            "RoleIds": list(c.role_ids),
                            "Enabled": c.enabled,
                            "AccessTokenLifetime": c.access_token_lifetime,
                            "Tags": list(c.tags),
                            "Secrets": [
                                {
                                    "Id": s.id,
                                    "Description": s.description,
                                    "Expiration": format_datetime(s.expiration),
                                    "Type": s.type,
                                    "Expired": s.expired(now),
                                }
                                for s in c.secrets.values()
                            ],
                        }
                        for c in tenant.clients.values()
                    ],
                }
                for tenant in self.tenants.values()
            },
        }
