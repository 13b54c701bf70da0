"""Bootstrap documents (YAML or JSON): the tenants, role ids and clients a fresh simulator
starts with, and the credentials that applying one hands back."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from .auth import new_secret_value
from .model import (
    ACCOUNT_ADMINISTRATOR,
    API_VERSIONS,
    CLUSTER_OPERATOR,
    CLUSTER_SUPPORT,
    MEMBER_ROLE,
    SPECIAL_ROLES,
    UNVERSIONED,
    V1,
    bad_input,
)
from .store import Store

DEFAULT_TENANT: Final = "demo-tenant"
#: The default bootstrap's second tenant, in the v1 form, with the same role names.
DEFAULT_V1_TENANT: Final = "demo-tenant-v1"
DEFAULT_ADMIN_CLIENT: Final = "ccoperator-admin"
DEFAULT_ROLES: Final = {
    ACCOUNT_ADMINISTRATOR: "6b1d0b52-0000-4000-8000-00000000ad01",
    CLUSTER_OPERATOR: "6b1d0b52-0000-4000-8000-00000000c0e1",
    CLUSTER_SUPPORT: "6b1d0b52-0000-4000-8000-00000000c5e1",
    MEMBER_ROLE: "6b1d0b52-0000-4000-8000-00000000e3e1",
    "Tenant Contributor": "6b1d0b52-0000-4000-8000-00000000c041",
}
# Role ids are per tenant: the v1 tenant's differ from the first tenant's in one digit.
DEFAULT_V1_ROLES: Final = {
    ACCOUNT_ADMINISTRATOR: "6b1d0b52-0000-4000-8001-00000000ad01",
    CLUSTER_OPERATOR: "6b1d0b52-0000-4000-8001-00000000c0e1",
    CLUSTER_SUPPORT: "6b1d0b52-0000-4000-8001-00000000c5e1",
    MEMBER_ROLE: "6b1d0b52-0000-4000-8001-00000000e3e1",
    "Tenant Contributor": "6b1d0b52-0000-4000-8001-00000000c041",
}
TOKEN_PATH: Final = "/identity/connect/token"  # noqa: S105 - a path, not a password


@dataclass(frozen=True)
class TenantSpec:
    id: str
    roles: dict[str, str | None]  # name -> id; None: generated
    api_version: str = UNVERSIONED  # the form whose paths the tenant answers on
    max_clients: int | None = None  # v1 client limit; None: the reference's 50,000


@dataclass(frozen=True)
class ClientSpec:
    tenant: str
    client_id: str
    roles: list[str]  # names (in `tenant`) or ids
    secret: str | None = None
    name: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class BootstrapDoc:
    tenants: list[TenantSpec]
    admin: ClientSpec  # roles: extra to Account Administrator of every tenant in the doc
    clients: list[ClientSpec] = field(default_factory=list)


DEFAULT_BOOTSTRAP: Final = BootstrapDoc(
    tenants=[
        TenantSpec(DEFAULT_TENANT, dict(DEFAULT_ROLES)),
        TenantSpec(DEFAULT_V1_TENANT, dict(DEFAULT_V1_ROLES), api_version=V1),
    ],
    admin=ClientSpec(DEFAULT_TENANT, DEFAULT_ADMIN_CLIENT, []),
)


@dataclass
class BootstrapResult:
    """Who the administrator is and what the bootstrapped tenants' role ids are."""

    admin_client_id: str | None = None
    admin_client_secret: str | None = None
    admin_tenant_id: str | None = None
    tenants: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant -> name -> id
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # extra clients
    api_versions: dict[str, str] = field(default_factory=dict)  # tenant -> its API form

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The `/_admin/bootstrap` and `/_admin/reset` answer (PascalCase like the API)."""
        return {
            "BaseUrl": base_url,
            "TokenUrl": base_url + TOKEN_PATH,
            "AdminClientId": self.admin_client_id,
            "AdminClientSecret": self.admin_client_secret,
            "AdminTenantId": self.admin_tenant_id,
            "Tenants": {
                t: {"Roles": dict(r), "ApiVersion": self.api_versions.get(t, UNVERSIONED)}
                for t, r in self.tenants.items()
            },
            "Clients": {
                cid: {
                    "TenantId": c["tenant_id"],
                    "ClientSecret": c["client_secret"],
                    "RoleIds": list(c["role_ids"]),
                }
                for cid, c in self.clients.items()
            },
        }

    def to_ready(self, base_url: str) -> dict[str, Any]:
        """The `--ready-file` / `--write-credentials` document (snake_case)."""
        return {
            "base_url": base_url,
            "token_url": base_url + TOKEN_PATH,
            "admin_client_id": self.admin_client_id,
            "admin_client_secret": self.admin_client_secret,
            "admin_tenant_id": self.admin_tenant_id,
            "tenants": {
                t: {"roles": dict(r), "api_version": self.api_versions.get(t, UNVERSIONED)}
                for t, r in self.tenants.items()
            },
            "clients": {cid: dict(c) for cid, c in self.clients.items()},
        }


# -- parsing ---------------------------------------------------------------------------------


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise bad_input(f"bootstrap {where}: expected a mapping")
    return value


def _string(value: object, where: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise bad_input(f"bootstrap {where}: expected a non-empty string")
    return value


def _client_spec(
    data: object, where: str, default_tenant: str, default_id: str | None
) -> ClientSpec:
    item = _mapping(data, where)
    unknown = set(item) - {"tenant", "clientId", "roles", "secret", "name", "enabled"}
    if unknown:
        raise bad_input(f"bootstrap {where}: unknown key(s) {', '.join(sorted(unknown))}")
    tenant = _string(item.get("tenant", default_tenant), f"{where}.tenant")
    client_id = _string(item.get("clientId", default_id), f"{where}.clientId")
    roles = item.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
        raise bad_input(f"bootstrap {where}.roles: expected a list of role names or ids")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise bad_input(f"bootstrap {where}.enabled: expected true or false")
    assert tenant is not None and client_id is not None
    return ClientSpec(
        tenant,
        client_id,
        list(roles),
        _string(item.get("secret"), f"{where}.secret", optional=True),
        _string(item.get("name"), f"{where}.name", optional=True),
        enabled,
    )


_TENANT_KEYS: Final = frozenset({"id", "roles", "apiVersion", "maxClients"})


def _tenant_spec(raw: object, where: str) -> TenantSpec:
    item = _mapping(raw, where)
    if set(item) - _TENANT_KEYS:
        extra = ", ".join(sorted(set(item) - _TENANT_KEYS))
        raise bad_input(f"bootstrap {where}: unknown key(s) {extra}")
    tenant_id = _string(item.get("id"), f"{where}.id")
    assert tenant_id is not None
    roles = _mapping(item.get("roles") or {}, f"{where}.roles")
    clean: dict[str, str | None] = {}
    for name, role_id in roles.items():
        _string(name, f"{where}.roles name")
        clean[name] = _string(role_id, f"{where}.roles.{name}", optional=True)
    api_version = item.get("apiVersion", UNVERSIONED)
    if api_version not in API_VERSIONS:
        raise bad_input(f"bootstrap {where}.apiVersion: one of {', '.join(API_VERSIONS)}")
    max_clients = item.get("maxClients")
    if max_clients is not None and (
        isinstance(max_clients, bool) or not isinstance(max_clients, int) or max_clients < 1
    ):
        raise bad_input(f"bootstrap {where}.maxClients: a positive integer or null")
    return TenantSpec(tenant_id, clean, api_version, max_clients)


def parse_bootstrap(data: object) -> BootstrapDoc:
    """A document from its decoded YAML/JSON form; errors are 400 `ApiError`s."""
    doc = _mapping(data, "document")
    unknown = set(doc) - {"tenants", "admin", "clients"}
    if unknown:
        raise bad_input(f"bootstrap: unknown key(s) {', '.join(sorted(unknown))}")
    raw_tenants = doc.get("tenants")
    if not isinstance(raw_tenants, list) or not raw_tenants:
        raise bad_input("bootstrap tenants: expected a non-empty list")
    tenants: list[TenantSpec] = []
    for index, raw in enumerate(raw_tenants):
        tenants.append(_tenant_spec(raw, f"tenants[{index}]"))
    known = {t.id for t in tenants}
    admin = _client_spec(doc.get("admin") or {}, "admin", tenants[0].id, DEFAULT_ADMIN_CLIENT)
    raw_clients = doc.get("clients") or []
    if not isinstance(raw_clients, list):
        raise bad_input("bootstrap clients: expected a list")
    clients = [
        _client_spec(raw, f"clients[{i}]", tenants[0].id, None) for i, raw in enumerate(raw_clients)
    ]
    for spec in [admin, *clients]:
        if spec.tenant not in known:
            raise bad_input(
                f"bootstrap client {spec.client_id}: tenant {spec.tenant} is not listed"
            )
    return BootstrapDoc(tenants, admin, clients)


def parse_bootstrap_text(text: str) -> BootstrapDoc:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise bad_input(f"bootstrap: not valid YAML/JSON ({exc})") from None
    return parse_bootstrap(data)


def load_bootstrap_file(path: str | Path) -> BootstrapDoc:
    return parse_bootstrap_text(Path(path).read_text())


# -- applying --------------------------------------------------------------------------------


def _resolve_roles(store: Store, spec: ClientSpec) -> list[str]:
    names = store.tenant(spec.tenant).roles
    out: list[str] = []
    for role in spec.roles:
        if role in names:
            out.append(names[role])
        elif role in store.known_role_ids:
            out.append(role)
        else:
            raise bad_input(f"bootstrap client {spec.client_id}: unknown role '{role}'")
    return out


def apply_bootstrap(
    store: Store, doc: BootstrapDoc, admin_secret: str | None = None
) -> BootstrapResult:
    """Create (or merge into) the tenants, then create or overwrite the clients so that the
    answered secrets authenticate them. Safe to apply twice."""
    result = BootstrapResult()
    for tenant_spec in doc.tenants:
        existing = store.tenants[tenant_spec.id].roles if tenant_spec.id in store.tenants else {}
        roles: dict[str, str] = {}
        # A v1 tenant always has a Member role: every client there must hold it.
        required = (*SPECIAL_ROLES, MEMBER_ROLE) if tenant_spec.api_version == V1 else SPECIAL_ROLES
        for name in (*required, *tenant_spec.roles):
            given = tenant_spec.roles.get(name)
            roles[name] = given or existing.get(name) or str(uuid.uuid4())
        tenant = store.put_tenant(
            tenant_spec.id, roles, tenant_spec.api_version, tenant_spec.max_clients
        )
        result.tenants[tenant_spec.id] = dict(tenant.roles)
        result.api_versions[tenant_spec.id] = tenant.api_version
    admin = doc.admin
    admin_roles = [store.tenants[t.id].roles[ACCOUNT_ADMINISTRATOR] for t in doc.tenants]
    previous = store.clients.get(admin.client_id)
    role_ids = [
        *(previous.role_ids if previous else []),
        *admin_roles,
        *_resolve_roles(store, admin),
    ]
    secret = admin.secret or admin_secret or new_secret_value()
    store.put_client(
        store.tenant(admin.tenant),
        admin.client_id,
        admin.name or admin.client_id,
        role_ids,
        admin.enabled,
        secret,
    )
    result.admin_client_id = admin.client_id
    result.admin_client_secret = secret
    result.admin_tenant_id = admin.tenant
    for extra in doc.clients:
        value = extra.secret or new_secret_value()
        client = store.put_client(
            store.tenant(extra.tenant),
            extra.client_id,
            extra.name or extra.client_id,
            _resolve_roles(store, extra),
            extra.enabled,
            value,
        )
        result.clients[extra.client_id] = {
            "tenant_id": extra.tenant,
            "client_secret": value,
            "role_ids": list(client.role_ids),
        }
    store.set_meta("admin", {"client_id": admin.client_id, "tenant_id": admin.tenant})
    return result


def recorded_result(store: Store, admin_secret: str | None) -> BootstrapResult:
    """What a restarted simulator can tell about its bootstrap: everything except secret
    values, which only exist in the answer that made them (`admin_secret` if it was fixed)."""
    admin = store.meta.get("admin") or {}
    return BootstrapResult(
        admin_client_id=admin.get("client_id"),
        admin_client_secret=admin_secret,
        admin_tenant_id=admin.get("tenant_id"),
        tenants={t.id: dict(t.roles) for t in store.tenants.values()},
        api_versions={t.id: t.api_version for t in store.tenants.values()},
    )


__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_V1_TENANT",
    "BootstrapDoc",
    "BootstrapResult",
    "apply_bootstrap",
    "load_bootstrap_file",
    "parse_bootstrap",
    "parse_bootstrap_text",
    "recorded_result",
]
