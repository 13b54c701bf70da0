"""The simulator's data: tenants, clients, secrets, tokens, the clock and the API error type.

Plain dataclasses with no I/O; `store.py` owns the operations on them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

ACCOUNT_ADMINISTRATOR = "Account Administrator"
CLUSTER_OPERATOR = "Cluster Operator"
CLUSTER_SUPPORT = "Cluster Support"
#: The role names that carry permissions; every tenant has an id for each of them.
SPECIAL_ROLES = (ACCOUNT_ADMINISTRATOR, CLUSTER_OPERATOR, CLUSTER_SUPPORT)
#: Who may call what (the seed's "Security" sections).
WRITE_ROLES = (ACCOUNT_ADMINISTRATOR,)
READ_ROLES = (ACCOUNT_ADMINISTRATOR, CLUSTER_OPERATOR, CLUSTER_SUPPORT)

#: The role every client of a v1 tenant must hold (the v1 reference: "Member role is always
#: required"); v1 tenants always get an id for it.
MEMBER_ROLE = "Tenant Member"

#: The forms of the API a tenant can speak; it answers on its own form's paths only.
UNVERSIONED = "unversioned"
V1 = "v1"
API_VERSIONS = (UNVERSIONED, V1)

MAX_SECRETS_PER_CLIENT = 10
#: The v1 reference's limit of clients per tenant (a bootstrap can set a smaller one).
MAX_CLIENTS_PER_TENANT = 50_000
#: `AccessTokenLifetime` (v1), seconds: range and default.
MIN_TOKEN_LIFETIME = 60
MAX_TOKEN_LIFETIME = 3600
DEFAULT_TOKEN_LIFETIME = 3600
SECRET_TYPE = "SharedSecret"  # noqa: S105 - a type name


class ApiError(Exception):
    """An answer other than success, carrying the contract's error body fields."""

    def __init__(self, status: int, error: str, reason: str = "", resolution: str = "") -> None:
        super().__init__(f"{status} {error}: {reason}")
        self.status = status
        self.error = error
        self.reason = reason
        self.resolution = resolution


def bad_input(reason: str) -> ApiError:
    return ApiError(400, "Missing or invalid inputs", reason, "Correct the request and retry.")


def tenant_not_found(tenant_id: str) -> ApiError:
    return ApiError(404, "Tenant not found", f"No tenant '{tenant_id}'.", "Check the tenant id.")


def client_not_found(client_id: str) -> ApiError:
    return ApiError(404, "Client not found", f"No client '{client_id}'.", "Check the client id.")


def secret_not_found(secret_id: str) -> ApiError:
    return ApiError(404, "Secret not found", f"No secret '{secret_id}'.", "Check the secret id.")


class Clock:
    """Wall clock plus an offset that the admin API can only move forward."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)


def parse_datetime(value: str) -> datetime:
    """ISO 8601 (any fraction length, `Z` or an offset; no offset means UTC) -> aware UTC."""
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datetime(value: datetime | None) -> str | None:
    """UTC, ISO 8601 with `Z`; the fraction only when it is not zero."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Tenant:
    id: str
    roles: dict[str, str]  # role name -> role id
    #: role ids allowed to write / read, precomputed for O(1) checks
    write_role_ids: frozenset[str] = field(default_factory=frozenset)
    read_role_ids: frozenset[str] = field(default_factory=frozenset)
    #: ClientId -> Client, in creation order (that order is the list order)
    clients: dict[str, Client] = field(default_factory=dict)
    api_version: str = UNVERSIONED
    max_clients: int = MAX_CLIENTS_PER_TENANT

    def __post_init__(self) -> None:
        self.refresh_roles()

    @property
    def member_role_id(self) -> str | None:
        return self.roles.get(MEMBER_ROLE)

    def refresh_roles(self) -> None:
        self.write_role_ids = frozenset(self.roles[n] for n in WRITE_ROLES if n in self.roles)
        self.read_role_ids = frozenset(self.roles[n] for n in READ_ROLES if n in self.roles)


@dataclass(slots=True)
class Secret:
    id: int
    description: str | None
    expiration: datetime | None
    salt: bytes
    digest: bytes  # sha256(salt + value); the value itself is never kept
    type: str = SECRET_TYPE

    def expired(self, now: datetime) -> bool:
        return self.expiration is not None and self.expiration <= now


@dataclass(slots=True)
class Client:
    tenant_id: str
    client_id: str
    name: str
    role_ids: list[str]
    enabled: bool
    secrets: dict[int, Secret] = field(default_factory=dict)
    next_secret_id: int = 1
    #: the dto's JSON, cached for the hot GET path; dropped by every change of the client
    json: bytes | None = None
    #: v1 only on the wire; also bounds the lifetime of the tokens the client gets
    access_token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Token:
    client_id: str
    role_ids: frozenset[str]  # snapshot at issue time, like the claims of a real JWT
    expires_at: float  # simulator clock, epoch seconds
