"""Tenant objects -> identity clients: credentials from Secrets, one client per pair, closed
when unused. Plain objects stand in for the Kubernetes reads (no HTTP is involved here)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from ccoperator.api.conditions import TenantReason
from ccoperator.api.tenants import CLUSTER_KIND, NAMESPACED_KIND, TenantKey, TenantSpec
from ccoperator.identity import ApiVersion
from ccoperator.tenants import credentials as creds
from ccoperator.tenants.connections import ConnectionPool
from ccoperator.tenants.registry import TenantRegistry
from pydantic import SecretStr

CLUSTER = TenantKey(CLUSTER_KIND, "", "shared")
TEAM = TenantKey(NAMESPACED_KIND, "team-a", "team")
OWN = creds.Credentials("http://127.0.0.1:9", "operator", SecretStr("own-secret"))


class Secrets:
    """The one Kubernetes read credentials.load makes, from a dict (namespace, name) -> data."""

    def __init__(self, data: dict[tuple[str, str], dict[str, str]]) -> None:
        self.data = data
        self.reads: list[tuple[str, str]] = []

    async def read_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        self.reads.append((namespace, name))
        return self.data.get((namespace, name))


def spec(**over: Any) -> TenantSpec:
    return TenantSpec.model_validate({"tenantId": "t1", "allowedRoleIds": ["r"], **over})


async def load(kube: Secrets, key: TenantKey, tenant: TenantSpec, *,
               own: creds.Credentials | None = OWN,
               default_url: str | None = "http://127.0.0.1:9") -> Any:
    return await creds.load(kube, key, tenant, default_url=default_url,  # type: ignore[arg-type]
                            own=lambda: own, operator_namespace="ccoperator-system")


REF = {"credentialsSecretRef": {"name": "admin"}}
GOOD = {"clientId": " admin-client\n", "clientSecret": "s3cret"}


@pytest.mark.parametrize(("key", "tenant", "secrets", "expected"), [
    (CLUSTER, spec(), {}, "operator"),  # no ref: the operator's own
    (CLUSTER, spec(**REF), {("ccoperator-system", "admin"): GOOD}, "admin-client"),
    (TEAM, spec(**REF), {("team-a", "admin"): GOOD}, "admin-client"),
    # An IdentityTenant never reads the operator's namespace, whatever exists there.
    (TEAM, spec(**REF), {("ccoperator-system", "admin"): GOOD},
     TenantReason.CREDENTIALS_NOT_FOUND),
    (CLUSTER, spec(**REF), {("ccoperator-system", "admin"): {"clientId": "x"}},
     TenantReason.CREDENTIALS_NOT_FOUND),
])
async def test_credentials_come_from_the_right_secret(
        key: TenantKey, tenant: TenantSpec, secrets: dict[tuple[str, str], dict[str, str]],
        expected: str | TenantReason) -> None:
    loaded = await load(Secrets(secrets), key, tenant)
    if isinstance(expected, TenantReason):
        assert isinstance(loaded, creds.CredentialsProblem) and loaded.reason is expected
        assert "s3cret" not in loaded.message
    else:
        assert isinstance(loaded, creds.Credentials) and loaded.client_id == expected


async def test_no_url_or_no_own_credentials_is_a_problem_not_a_crash() -> None:
    loaded = await load(Secrets({}), CLUSTER, spec(), default_url=None)
    assert isinstance(loaded, creds.CredentialsProblem) and "identityUrl" in loaded.message
    loaded = await load(Secrets({}), CLUSTER, spec(), own=None)
    assert isinstance(loaded, creds.CredentialsProblem)
    assert loaded.reason is TenantReason.CREDENTIALS_NOT_FOUND


async def test_api_version_follows_the_tenant() -> None:
    loaded = await load(Secrets({}), CLUSTER, spec(apiVersion="v1"))
    assert isinstance(loaded, creds.Credentials) and loaded.api_version is ApiVersion.V1


class FakeIdentity:
    def __init__(self, client_id: str, on_proved: Callable[[], None]) -> None:
        self.client_id = client_id
        self.closed = False
        self.proved = False
        self._on_proved = on_proved

    def prove(self) -> None:
        """As the first token these credentials obtain does."""
        self.proved = True
        self._on_proved()

    async def aclose(self) -> None:
        self.closed = True


def pool(grace: float = 0.01) -> tuple[ConnectionPool, list[FakeIdentity]]:
    made: list[FakeIdentity] = []

    def make(credentials: creds.Credentials, on_proved: Callable[[], None]) -> tuple[Any, Any]:
        made.append(FakeIdentity(credentials.client_id, on_proved))
        return made[-1], object()

    return ConnectionPool(make, close_grace=grace), made


async def test_one_client_per_url_form_and_credentials() -> None:
    connections, made = pool()
    a = connections.acquire(CLUSTER, OWN)
    b = connections.acquire(TEAM, OWN)
    assert a is b and len(made) == 1
    other = creds.Credentials(OWN.identity_url, OWN.client_id, SecretStr("rotated"))
    c = connections.acquire(TEAM, other)  # TEAM's Secret changed: its own client now
    assert c is not a and len(connections) == 2
    v1 = creds.Credentials(OWN.identity_url, OWN.client_id, OWN.client_secret, ApiVersion.V1)
    assert connections.acquire(TenantKey(CLUSTER_KIND, "", "v1"), v1) is not a


async def test_unused_client_is_closed_after_the_grace_and_reuse_cancels_it() -> None:
    connections, made = pool(grace=0.05)
    connections.acquire(CLUSTER, OWN)
    connections.release(CLUSTER)
    connections.acquire(TEAM, OWN)  # picked up again within the grace: kept
    await asyncio.sleep(0.1)
    assert not made[0].closed and len(connections) == 1
    connections.release(TEAM)
    await asyncio.sleep(0.1)
    assert made[0].closed and len(connections) == 0


async def test_registry_tells_listeners_and_reserves_credential_ids() -> None:
    kube = Secrets({("ccoperator-system", "admin"): GOOD})
    connections, _ = pool()
    registry = TenantRegistry(kube, connections, default_url="http://127.0.0.1:9",  # type: ignore[arg-type]
                              own=lambda: OWN, operator_namespace="ccoperator-system")
    heard: list[TenantKey] = []
    registry.tenant_listeners.append(heard.append)
    body = {"metadata": {"name": "shared", "uid": "u1", "generation": 1},
            "spec": {"tenantId": "t1", "allowedRoleIds": ["r"], **REF}}
    registry.observe_tenant(CLUSTER_KIND, body)
    assert heard == [CLUSTER]
    registry.observe_tenant(CLUSTER_KIND, {**body, "status": {"conditions": []}})
    assert heard == [CLUSTER]  # a status write changes nothing a decision reads
    assert await registry.refresh_credentials(CLUSTER)
    assert registry.reserved_ids() == {"operator", "admin-client"}
    kube.data[("ccoperator-system", "admin")] = {**GOOD, "clientId": "new-admin"}
    assert await registry.refresh_credentials(CLUSTER)  # the Secret changed: re-read
    assert heard == [CLUSTER, CLUSTER] and "new-admin" in registry.reserved_ids()
    registry.tenant_gone(CLUSTER_KIND, body)
    assert registry.get(CLUSTER) is None and registry.reserved_ids() == {"operator"}


async def test_a_deleted_tenant_still_serves_the_cleanup_of_its_clients() -> None:
    kube = Secrets({("team-a", "admin"): GOOD})
    connections, made = pool(grace=0.01)
    registry = TenantRegistry(kube, connections, default_url="http://127.0.0.1:9",  # type: ignore[arg-type]
                              own=lambda: OWN, operator_namespace="ccoperator-system")
    body = {"metadata": {"name": "team", "namespace": "team-a", "uid": "u1", "generation": 1},
            "spec": {"tenantId": "t1", "allowedRoleIds": ["r"], **REF}}
    registry.observe_tenant(NAMESPACED_KIND, body)
    await registry.refresh_credentials(TEAM)
    kube.data.clear()  # a namespace being deleted: the Secret may go first
    registry.tenant_gone(NAMESPACED_KIND, body)
    assert registry.get(TEAM) is None  # never admits anything again
    assert registry.cleanup_connection(TEAM) is not None  # but can still delete its clients
    registry.forget_gone(TEAM)
    assert registry.cleanup_connection(TEAM) is None
    await asyncio.sleep(0.05)
    assert made[0].closed


def registry_of(kube: Secrets, connections: ConnectionPool) -> TenantRegistry:
    return TenantRegistry(kube, connections, default_url="http://127.0.0.1:9",  # type: ignore[arg-type]
                          own=lambda: OWN, operator_namespace="ccoperator-system")


def team_tenant(uid: str = "u1") -> dict[str, Any]:
    return {"metadata": {"name": "team", "namespace": "team-a", "uid": uid, "generation": 1},
            "spec": {"tenantId": "t1", "allowedRoleIds": ["r"], **REF}}


async def test_a_namespaces_credentials_reserve_their_client_only_once_proved() -> None:
    # team-a's editor wrote another namespace's client id (and any secret) into a Secret.
    kube = Secrets({("team-a", "admin"): {"clientId": "victim", "clientSecret": "guess"}})
    connections, made = pool()
    registry = registry_of(kube, connections)
    changes: list[frozenset[str]] = []
    registry.reservation_listeners.append(changes.append)
    registry.observe_tenant(NAMESPACED_KIND, team_tenant())
    await registry.refresh_credentials(TEAM)
    assert registry.reserved_ids() == {"operator"}
    assert changes == [frozenset({"operator"})]  # the first check: only the operator's own
    # Had they obtained a token, whoever wrote them would hold that client's secret already.
    made[0].prove()
    assert registry.reserved_ids() == {"operator", "victim"}
    assert changes[-1] == frozenset({"victim"})
    # A rotated secret of the same client keeps the reservation while it proves itself again.
    kube.data[("team-a", "admin")] = {"clientId": "victim", "clientSecret": "rotated"}
    await registry.refresh_credentials(TEAM)
    assert "victim" in registry.reserved_ids() and len(changes) == 2
    # The tenant object goes: so does the reservation, and the listeners hear of it.
    registry.tenant_gone(NAMESPACED_KIND, team_tenant())
    assert registry.reserved_ids() == {"operator"}
    assert changes[-1] == frozenset({"victim"})
    # A new object of the same name starts unproved.
    registry.observe_tenant(NAMESPACED_KIND, team_tenant(uid="u2"))
    await registry.refresh_credentials(TEAM)
    assert registry.reserved_ids() == {"operator"}


async def test_a_cluster_tenants_credentials_are_reserved_unproved() -> None:
    kube = Secrets({("ccoperator-system", "admin"): GOOD})
    connections, _ = pool()
    registry = registry_of(kube, connections)
    changes: list[frozenset[str]] = []
    registry.reservation_listeners.append(changes.append)
    registry.observe_tenant(CLUSTER_KIND, {
        "metadata": {"name": "shared", "uid": "u1", "generation": 1},
        "spec": {"tenantId": "t1", "allowedRoleIds": ["r"], **REF}})
    await registry.refresh_credentials(CLUSTER)
    assert registry.reserved_ids() == {"operator", "admin-client"}
    assert changes == [frozenset({"operator", "admin-client"})]  # first check: both new


async def test_a_spec_change_keeps_the_old_reservation_until_the_credentials_are_read() -> None:
    kube = Secrets({("ccoperator-system", "admin"): GOOD})
    connections, _ = pool()
    registry = registry_of(kube, connections)
    body = {"metadata": {"name": "shared", "uid": "u1", "generation": 1},
            "spec": {"tenantId": "t1", "allowedRoleIds": ["r"], **REF}}
    registry.observe_tenant(CLUSTER_KIND, body)
    await registry.refresh_credentials(CLUSTER)
    kube.data[("ccoperator-system", "other")] = {**GOOD, "clientId": "other-admin"}
    registry.observe_tenant(CLUSTER_KIND, {
        "metadata": {**body["metadata"], "generation": 2},
        "spec": {**body["spec"], "credentialsSecretRef": {"name": "other"}}})
    assert "admin-client" in registry.reserved_ids()  # no gap before the new Secret is read
    connection = await registry.connection(CLUSTER)  # the next use reads it
    assert not isinstance(connection, creds.CredentialsProblem)
    assert connection.client_id == "other-admin"
    assert registry.reserved_ids() == {"operator", "other-admin"}
