"""The orphan scan (tenants/orphans.py): which clients count, in which tenant object's scope,
and when spec.orphans: Delete deletes one. Plain objects stand in for the tenant registry,
the identity service and Kubernetes (no HTTP); a fake clock stands in for time."""

from __future__ import annotations

from typing import Any

from ccoperator.api.marks import Cluster, Mark, derived_client_id
from ccoperator.api.tenants import (
    CLUSTER_KIND,
    NAMESPACED_KIND,
    TenantKey,
    TenantObject,
    TenantSpec,
)
from ccoperator.identity import ApiVersion, ClientDto, ClientNotFound, SecretInfo
from ccoperator.reconcile.model import RemoteClient
from ccoperator.tenants.credentials import CredentialsProblem
from ccoperator.tenants.orphans import OrphanScanner
from prometheus_client import REGISTRY

CLUSTER = Cluster("blue", "blue")
CIT = TenantKey(CLUSTER_KIND, "", "shared")
TEAM = TenantKey(NAMESPACED_KIND, "team-a", "team")
MINUTE = 60.0


class Identity:
    """The tenant "t1" as the identity service holds it: clients with their tags (v1) or
    their secrets' descriptions (unversioned)."""

    def __init__(self, api_version: ApiVersion) -> None:
        self.api_version = api_version
        self.tags: dict[str, list[str]] = {}
        self.descriptions: dict[str, list[str]] = {}
        self.secret_lists: list[str] = []
        self.deleted: list[str] = []

    def add(self, client_id: str, owner: str, *, released: bool = False) -> None:
        mark = Mark(owner, released=released)
        self.tags[client_id] = [mark.tag(), "team:x"]
        self.descriptions[client_id] = ["made earlier", mark.in_description("made here")]

    def listing(self) -> list[ClientDto]:
        tagged = self.api_version is ApiVersion.V1
        return [ClientDto(client_id=c, name=c, tags=self.tags[c] if tagged else None)
                for c in self.tags]

    async def list_secrets(self, tenant_id: str, client_id: str) -> list[SecretInfo]:
        self.secret_lists.append(client_id)
        if client_id not in self.descriptions:
            raise ClientNotFound(client_id)
        return [SecretInfo(id=i, description=d)
                for i, d in enumerate(self.descriptions[client_id], start=1)]

    async def delete_client(self, tenant_id: str, client_id: str) -> None:
        self.deleted.append(client_id)
        self.tags.pop(client_id, None)
        self.descriptions.pop(client_id, None)


class Remote:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.stale: list[ClientDto] | None = None  # a list read before a change

    async def full_listing(self, tenant_id: str) -> list[ClientDto]:
        return self.stale if self.stale is not None else self.identity.listing()

    async def get(self, tenant_id: str, client_id: str) -> RemoteClient | None:
        tags = self.identity.tags.get(client_id)
        if tags is None:
            return None
        return RemoteClient(client_id, client_id, frozenset(), True,
                            mark=Mark(tags[0].split("=", 1)[1],
                                      released="released" in tags[0]))

    def forget(self, tenant_id: str, client_id: str) -> None:
        pass


class Connection:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.remote = Remote(identity)


class Registry:
    def __init__(self, objects: list[TenantObject], connection: Connection,
                 labels: dict[str, dict[str, str]]) -> None:
        self.objects = {o.key: o for o in objects}
        self.connection_ = connection
        self.labels = labels
        self.reserved: frozenset[str] = frozenset()

    def tenant_keys(self) -> list[TenantKey]:
        return list(self.objects)

    def get(self, key: TenantKey) -> TenantObject | None:
        return self.objects.get(key)

    async def connection(self, key: TenantKey) -> Any:
        return self.connection_

    def reserved_ids(self) -> frozenset[str]:
        return self.reserved

    def status_of(self, key: TenantKey) -> dict[str, Any]:
        return {}  # as the watch shows it: nothing written yet

    async def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self.labels.get(namespace)


class Kube:
    def __init__(self) -> None:
        self.status: list[tuple[str, dict[str, Any]]] = []
        self.events: list[dict[str, Any]] = []

    async def patch_object_status(self, path: str, patch: dict[str, Any]) -> None:
        self.status.append((path, patch))

    async def post_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.events.append(body)


def tenant(key: TenantKey, **spec: Any) -> TenantObject:
    body = {"tenantId": "t1", "allowedRoleIds": ["r"], **spec}
    return TenantObject(key=key, uid=f"uid-{key.name}", generation=1,
                        spec=TenantSpec.model_validate(body))


class World:
    def __init__(self, api_version: ApiVersion = ApiVersion.V1, **cit: Any) -> None:
        self.identity = Identity(api_version)
        self.declared: set[tuple[str, str]] = set()
        self.held: set[str] = set()
        self.now = 0.0
        self.kube = Kube()
        self.registry = Registry(
            [tenant(CIT, namespaceSelector={"matchLabels": {"served": "yes"}}, **cit),
             tenant(TEAM)],
            Connection(self.identity),
            {"team-a": {"served": "yes"}, "team-b": {"served": "yes"}, "team-c": {}})
        self.scanner = OrphanScanner(
            self.registry, self.kube, cluster=CLUSTER, period=MINUTE,  # type: ignore[arg-type]
            declared=lambda: self.declared, held=lambda tenant_id: self.held, watched=[],
            clock=lambda: self.now)

    def counts(self) -> dict[str, int]:
        latest: dict[str, int] = {}
        for path, patch in self.kube.status:
            latest[path] = patch["orphanedClients"]
        return {("cit" if "clusteridentitytenants" in p else "it"): n for p, n in latest.items()}


def metric(label: str) -> float | None:
    return REGISTRY.get_sample_value("ccoperator_orphaned_clients", {"tenant_object": label})


async def test_orphans_are_counted_in_the_scope_of_each_tenant_object() -> None:
    world = World()
    world.identity.add("a1", "blue/team-a/gone")       # an orphan in team-a
    world.identity.add("b1", "blue/team-b/gone")       # an orphan in team-b (not TEAM's)
    world.identity.add("c1", "blue/team-c/gone")       # team-c: no tenant object serves it
    world.identity.add("a2", "blue/team-a/alive")      # declared
    world.identity.add("a3", "blue/team-a/moved")      # held by a resource under another name
    world.identity.add("a4", "blue/team-a/kept", released=True)  # deletionPolicy: Orphan
    world.identity.add("a5", "green/team-a/gone")      # another cluster's
    world.declared = {("team-a", "alive")}
    world.held = {"a3"}
    await world.scanner.scan()
    assert world.counts() == {"cit": 2, "it": 1}
    assert metric("ClusterIdentityTenant/shared") == 2
    assert metric("IdentityTenant/team-a/team") == 1
    writes = len(world.kube.status)
    await world.scanner.scan()
    assert len(world.kube.status) == writes  # unchanged counts: nothing written
    assert world.identity.deleted == []  # Report (the default) deletes nothing


async def test_delete_waits_for_the_grace_and_spares_what_is_declared_again() -> None:
    world = World(orphans="Delete", orphanGracePeriod="10m")
    world.identity.add("a1", "blue/team-a/gone")
    world.identity.add("b1", "blue/team-b/back")
    await world.scanner.scan()
    world.now = 9 * MINUTE
    await world.scanner.scan()
    assert world.identity.deleted == []
    world.declared = {("team-b", "back")}  # declared again within the grace
    world.now = 10 * MINUTE
    await world.scanner.scan()
    assert world.identity.deleted == ["a1"]
    assert [e["reason"] for e in world.kube.events] == ["OrphanDeleted"]
    assert "a1" in world.kube.events[0]["message"]
    assert world.kube.events[0]["involvedObject"]["kind"] == CLUSTER_KIND
    world.declared = set()  # gone again: its grace starts over
    world.now = 15 * MINUTE
    await world.scanner.scan()
    assert world.identity.deleted == ["a1"]
    await world.scanner.scan()
    assert world.counts()["cit"] == 1


async def test_an_orphan_handed_over_meanwhile_is_not_deleted() -> None:
    world = World(orphans="Delete", orphanGracePeriod="10m")
    world.identity.add("a1", "blue/team-a/gone")
    await world.scanner.scan()
    world.now = 11 * MINUTE
    world.registry.connection_.remote.stale = world.identity.listing()
    world.identity.add("a1", "green/team-a/gone")  # adopted by green after the list
    await world.scanner.scan()
    assert world.identity.deleted == []


async def test_unversioned_reads_marks_only_of_unheld_ids_this_cluster_derives() -> None:
    world = World(api_version=ApiVersion.UNVERSIONED)
    orphan = derived_client_id("blue/team-a/gone")
    held = derived_client_id("blue/team-a/alive")
    world.identity.add(orphan, "blue/team-a/gone")
    world.identity.add(held, "blue/team-a/alive")
    world.identity.add("chosen-id", "blue/team-a/chosen")  # caller-chosen: left to prune
    world.identity.add(derived_client_id("green/team-a/x"), "green/team-a/x")
    world.held = {held}
    await world.scanner.scan()
    assert world.identity.secret_lists == [orphan]
    assert world.counts() == {"cit": 1, "it": 1}


async def test_nothing_is_scanned_without_credentials() -> None:
    world = World()
    world.identity.add("a1", "blue/team-a/gone")

    async def problem(key: TenantKey) -> Any:
        return CredentialsProblem(reason="CredentialsNotFound", message="no Secret")  # type: ignore[arg-type]

    world.registry.connection = problem  # type: ignore[method-assign]
    await world.scanner.scan()
    assert world.kube.status == []


async def test_a_tenant_without_orphans_is_never_written_to() -> None:
    world = World()
    world.identity.add("a2", "blue/team-a/alive")
    world.declared = {("team-a", "alive")}
    await world.scanner.scan()
    assert world.kube.status == []  # 0 is what an absent count says already
    assert metric("ClusterIdentityTenant/shared") == 0
