"""Shared helpers of the identity client's contract tests (the simulator over loopback)."""

from __future__ import annotations

import uuid
from typing import Any

from ccoperator.identity import (
    ApiVersion,
    ClientCreate,
    ClientDto,
    CreatedClient,
    IdentityClient,
    IdentityConfig,
)
from ccoperator.identity.paths import UNVERSIONED, PathScheme
from ccoperator.identity.paths_v1 import V1
from identity_sim.testing import SimProcess

ACCOUNT_ADMINISTRATOR = "Account Administrator"
CLUSTER_OPERATOR = "Cluster Operator"
CLUSTER_SUPPORT = "Cluster Support"
TENANT_MEMBER = "Tenant Member"

# The default bootstrap's role ids (docs/identity-simulator.md), in case a handle has none.
DEFAULT_ROLES = {
    ACCOUNT_ADMINISTRATOR: "6b1d0b52-0000-4000-8000-00000000ad01",
    CLUSTER_OPERATOR: "6b1d0b52-0000-4000-8000-00000000c0e1",
    CLUSTER_SUPPORT: "6b1d0b52-0000-4000-8000-00000000c5e1",
    TENANT_MEMBER: "6b1d0b52-0000-4000-8000-00000000e3e1",
}


Sim = SimProcess
"""The `sim` fixture of tests/sim_fixtures.py: the simulator as a process on loopback."""


def role_id(sim: Sim, tenant: str, name: str) -> str:
    """The id of role `name` in `tenant` (role ids are per tenant)."""
    roles = sim.tenants.get(tenant) or (DEFAULT_ROLES if tenant == sim.admin_tenant_id else {})
    return roles[name]


def is_v1(sim: Sim, tenant: str) -> bool:
    return sim.api_versions.get(tenant) == ApiVersion.V1


def with_member(sim: Sim, tenant: str, roles: list[str]) -> list[str]:
    """`roles`, plus the tenant's Member role where the form requires it (v1)."""
    member = role_id(sim, tenant, TENANT_MEMBER)
    return [*roles, member] if is_v1(sim, tenant) and member not in roles else roles


def paths_of(form: ApiVersion) -> PathScheme:
    return V1 if form == ApiVersion.V1 else UNVERSIONED


def core(dto: ClientDto | CreatedClient) -> tuple[str, str, list[str], bool | None]:
    """What both forms show of a client (v1 adds lifetime and tags)."""
    return (dto.client_id, dto.name, sorted(dto.role_ids), dto.enabled)


def config(
    sim: Sim,
    client_id: str | None = None,
    client_secret: str | None = None,
    **overrides: Any,
) -> IdentityConfig:
    """Client settings for the simulator: quick backoff so fault tests stay fast."""
    settings: dict[str, Any] = {
        "base_url": sim.base_url,
        "client_id": client_id or sim.admin_client_id,
        "client_secret": client_secret or sim.admin_client_secret,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "max_retries": 4,
        "backoff_base": 0.01,
        "backoff_cap": 0.1,
    }
    settings.update(overrides)
    return IdentityConfig.model_validate(settings)


def unique(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def new_client(
    api: IdentityClient,
    tenant: str,
    roles: list[str],
    *,
    client_id: str | None = None,
    name: str = "contract test client",
) -> CreatedClient:
    return await api.create_client(
        tenant,
        ClientCreate(
            client_id=client_id or unique(),
            name=name,
            role_ids=roles,
            secret_description="first",
        ),
    )


def calls_of(sim: Sim, route: str) -> list[dict[str, Any]]:
    return [call for call in sim.admin.calls() if call["Route"] == route]


def counter(sim: Sim, route: str, status: int | str | None = None) -> int:
    by_status = sim.admin.counters().get(route, {})
    if status is None:
        return sum(by_status.values())
    return by_status.get(str(status), 0)
