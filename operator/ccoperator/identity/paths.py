"""Paths and route names of the identity API; the seed's unversioned form is defined here,
the v1 form in `paths_v1.py`.

Every id is percent-encoded as one path segment, so an id holding `/`, `?`, `#` or `%` cannot
address a different resource. Route names match the simulator's and label metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from .errors import ResourceKind

DISCOVERY_PATH = "/identity/.well-known/openid-configuration"
DEFAULT_TOKEN_PATH = "/identity/connect/token"  # noqa: S105 (a path)


def segment(value: str | int) -> str:
    """One path segment, percent-encoded (`/` included)."""
    text = str(value)
    if not text:
        raise ValueError("an id in a path must not be empty")
    return quote(text, safe="")


@dataclass(frozen=True)
class Route:
    """A call: its route name, method, path below the base URL, and what the path names."""

    name: str
    method: str
    path: str
    kind: ResourceKind

    @property
    def idempotent(self) -> bool:
        return self.method in ("GET", "PUT", "DELETE", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class PathScheme:
    """Where one API form keeps each resource; the route names are the same in every form.

    Templates take `{t}` (tenant), `{c}` (client) and `{s}` (secret), already encoded.
    """

    clients: str
    client: str
    secrets: str
    secret: str
    roles: str | None = None  # the unversioned form has no roles endpoint

    def _clients(self, tenant_id: str) -> str:
        return self.clients.format(t=segment(tenant_id))

    def _client(self, tenant_id: str, client_id: str) -> str:
        return self.client.format(t=segment(tenant_id), c=segment(client_id))

    def _secrets(self, tenant_id: str, client_id: str) -> str:
        return self.secrets.format(t=segment(tenant_id), c=segment(client_id))

    def _secret(self, tenant_id: str, client_id: str, secret_id: int) -> str:
        return self.secret.format(
            t=segment(tenant_id), c=segment(client_id), s=segment(secret_id)
        )

    def clients_create(self, tenant_id: str) -> Route:
        return Route("clients.create", "POST", self._clients(tenant_id), ResourceKind.CLIENTS)

    def clients_list(self, tenant_id: str) -> Route:
        return Route("clients.list", "GET", self._clients(tenant_id), ResourceKind.CLIENTS)

    def clients_get(self, tenant_id: str, client_id: str) -> Route:
        path = self._client(tenant_id, client_id)
        return Route("clients.get", "GET", path, ResourceKind.CLIENT)

    def clients_update(self, tenant_id: str, client_id: str) -> Route:
        path = self._client(tenant_id, client_id)
        return Route("clients.update", "PUT", path, ResourceKind.CLIENT)

    def clients_delete(self, tenant_id: str, client_id: str) -> Route:
        path = self._client(tenant_id, client_id)
        return Route("clients.delete", "DELETE", path, ResourceKind.CLIENT)

    def secrets_list(self, tenant_id: str, client_id: str) -> Route:
        path = self._secrets(tenant_id, client_id)
        return Route("secrets.list", "GET", path, ResourceKind.SECRETS)

    def secrets_add(self, tenant_id: str, client_id: str) -> Route:
        path = self._secrets(tenant_id, client_id)
        return Route("secrets.add", "POST", path, ResourceKind.SECRETS)

    def secrets_get(self, tenant_id: str, client_id: str, secret_id: int) -> Route:
        path = self._secret(tenant_id, client_id, secret_id)
        return Route("secrets.get", "GET", path, ResourceKind.SECRET)

    def secrets_update(self, tenant_id: str, client_id: str, secret_id: int) -> Route:
        path = self._secret(tenant_id, client_id, secret_id)
        return Route("secrets.update", "PUT", path, ResourceKind.SECRET)

    def secrets_delete(self, tenant_id: str, client_id: str, secret_id: int) -> Route:
        path = self._secret(tenant_id, client_id, secret_id)
        return Route("secrets.delete", "DELETE", path, ResourceKind.SECRET)

    def roles_list(self, tenant_id: str) -> Route | None:
        """None when the form has no roles endpoint."""
        if self.roles is None:
            return None
        path = self.roles.format(t=segment(tenant_id))
        return Route("roles.list", "GET", path, ResourceKind.ROLES)


# The seed's form: the trailing slash on collections is part of it.
UNVERSIONED: Final = PathScheme(
    clients="/api/Tenants/{t}/ClientCredentialClient/",
    client="/api/Tenants/{t}/ClientCredentialClient/{c}",
    secrets="/api/Tenants/{t}/Clients/{c}/Secret/",
    secret="/api/Tenants/{t}/Clients/{c}/Secret/{s}",  # noqa: S106 (a path)
)

# Module-level names of the unversioned form, kept for callers that predate the v1 form.
clients_create = UNVERSIONED.clients_create
clients_list = UNVERSIONED.clients_list
clients_get = UNVERSIONED.clients_get
clients_update = UNVERSIONED.clients_update
clients_delete = UNVERSIONED.clients_delete
secrets_list = UNVERSIONED.secrets_list
secrets_add = UNVERSIONED.secrets_add
secrets_get = UNVERSIONED.secrets_get
secrets_update = UNVERSIONED.secrets_update
secrets_delete = UNVERSIONED.secrets_delete
