"""Paths and route names of the identity API (the seed's unversioned form).

Every id is percent-encoded as one path segment, so an id holding `/`, `?`, `#` or `%` cannot
address a different resource. Route names match the simulator's and label metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
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


def _clients(tenant_id: str) -> str:
    return f"/api/Tenants/{segment(tenant_id)}/ClientCredentialClient/"


def _client(tenant_id: str, client_id: str) -> str:
    return f"/api/Tenants/{segment(tenant_id)}/ClientCredentialClient/{segment(client_id)}"


def _secrets(tenant_id: str, client_id: str) -> str:
    return f"/api/Tenants/{segment(tenant_id)}/Clients/{segment(client_id)}/Secret/"


def _secret(tenant_id: str, client_id: str, secret_id: int) -> str:
    return f"{_secrets(tenant_id, client_id)}{segment(secret_id)}"


def clients_create(tenant_id: str) -> Route:
    return Route("clients.create", "POST", _clients(tenant_id), ResourceKind.CLIENTS)


def clients_list(tenant_id: str) -> Route:
    return Route("clients.list", "GET", _clients(tenant_id), ResourceKind.CLIENTS)


def clients_get(tenant_id: str, client_id: str) -> Route:
    return Route("clients.get", "GET", _client(tenant_id, client_id), ResourceKind.CLIENT)


def clients_update(tenant_id: str, client_id: str) -> Route:
    return Route("clients.update", "PUT", _client(tenant_id, client_id), ResourceKind.CLIENT)


def clients_delete(tenant_id: str, client_id: str) -> Route:
    return Route("clients.delete", "DELETE", _client(tenant_id, client_id), ResourceKind.CLIENT)


def secrets_list(tenant_id: str, client_id: str) -> Route:
    return Route("secrets.list", "GET", _secrets(tenant_id, client_id), ResourceKind.SECRETS)


def secrets_add(tenant_id: str, client_id: str) -> Route:
    return Route("secrets.add", "POST", _secrets(tenant_id, client_id), ResourceKind.SECRETS)


def secrets_get(tenant_id: str, client_id: str, secret_id: int) -> Route:
    path = _secret(tenant_id, client_id, secret_id)
    return Route("secrets.get", "GET", path, ResourceKind.SECRET)


def secrets_update(tenant_id: str, client_id: str, secret_id: int) -> Route:
    path = _secret(tenant_id, client_id, secret_id)
    return Route("secrets.update", "PUT", path, ResourceKind.SECRET)


def secrets_delete(tenant_id: str, client_id: str, secret_id: int) -> Route:
    path = _secret(tenant_id, client_id, secret_id)
    return Route("secrets.delete", "DELETE", path, ResourceKind.SECRET)
