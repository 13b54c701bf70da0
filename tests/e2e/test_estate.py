"""One declaration, one client, for the life of the estate: rebuilt namespaces, a fresh
control plane against the same identity tenant, another namespace reaching for a gone
resource's client, two live clusters with the same manifests and a handover between them,
and leftovers.

"Without the operator acting" means: the operator is stopped, the resources' finalizers are
removed by hand and the resources and Secrets deleted, as a rebuilt or lost cluster leaves
them. The identity simulator keeps its state throughout, as a tenant outlives its clusters.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ccoperator_envtest.cluster import ControlPlane, api_client_from_kubeconfig
from kubernetes import client as k8s

from tests.crd_fixtures import CRD_DIR, CRD_NAMES, apply_object, cluster_tenant_object

from .support import Kube, OperatorProcess, token_status, wait_for

GRACE = 4  # seconds: CCOPERATOR_ROTATION_GRACE_PERIOD of these operators
QUICK = 30.0
WRITES = ("POST", "PUT", "DELETE")


def gone_without_the_operator(kube: Kube, namespace: str, names: list[str]) -> None:
    """Delete resources and their Secrets as a lost cluster leaves them: no finalizer runs."""
    for name in names:
        kube.patch_ccc(namespace, name, {"metadata": {"finalizers": None}})
        kube.delete_ccc(namespace, name)
        kube.wait_gone(namespace, name)
        # The garbage collector may get there first (the Secret's ownerReference).
        with contextlib.suppress(k8s.ApiException):
            kube.core.delete_namespaced_secret(f"{name}-credentials", namespace)


def writes_on(sim: Any, client_ids: set[str], since: int = 0) -> list[dict[str, Any]]:
    """Writes to these clients or their secrets (token requests, the tests' own, excluded)."""
    return [c for c in sim.admin.calls(since=since)
            if c["Method"] in WRITES and c["ClientId"] in client_ids and c["Route"] != "token"]


def last_seq(sim: Any) -> int:
    calls = sim.admin.calls()
    return int(calls[-1]["Seq"]) if calls else 0


def remote_ids(form: Any, sim: Any) -> list[str]:
    return sorted(c["ClientId"] for c in form.api.list_clients(form.tenant_id)
                  if c["ClientId"] != sim.admin_client_id)


def authenticates(sim: Any, data: dict[str, str] | None) -> bool:
    return data is not None and token_status(sim.token_url, data["clientId"],
                                             data["clientSecret"]) == 200


def tenant_spec(form: Any, **over: Any) -> dict[str, Any]:
    return {"tenantId": form.tenant_id, "apiVersion": form.api_version,
            "namespaceSelector": {}, "allowedRoleIds": [form.member], **over}


def manifests(form: Any, tenant: str) -> dict[str, dict[str, Any]]:
    """The same two declarations every time: a derived id and a caller-chosen one."""
    ref = {"tenantRef": {"name": tenant}, "roleIds": [form.member]}
    return {"derived": dict(ref),
            "chosen": {**ref, "clientId": f"estate-chosen-{form.api_version}"}}


def apply(kube: Kube, namespace: str, declared: dict[str, dict[str, Any]]) -> None:
    for name, spec in declared.items():
        kube.create_ccc(namespace, name, spec)


@pytest.fixture
def estate_operator(operator_factory: Any) -> Callable[..., OperatorProcess]:
    def make(cluster: str, *, kubeconfig: Any = None, **env: str) -> OperatorProcess:
        process: OperatorProcess = operator_factory(
            kubeconfig=kubeconfig, CCOPERATOR_CLUSTER_NAME=cluster,
            CCOPERATOR_ROTATION_GRACE_PERIOD=f"{GRACE}s", **env)
        return process
    return make


def test_a_rebuilt_namespace_gets_the_same_clients_back(
        estate_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], form: Any, sim: Any) -> None:
    # adoption: Deny (the default): the caller-chosen id comes back through its own mark.
    tenant = cluster_tenant(f"estate-{form.api_version}", **tenant_spec(form))
    declared = manifests(form, tenant)
    operator = estate_operator("estate").start()
    apply(kube, namespace, declared)
    first = {n: kube.wait_ready(namespace, n)["status"]["clientId"] for n in declared}
    old = {n: kube.secret_data(namespace, f"{n}-credentials") for n in declared}
    before = remote_ids(form, sim)
    operator.stop()
    gone_without_the_operator(kube, namespace, list(declared))

    operator.start()
    apply(kube, namespace, declared)
    again = {n: kube.wait_ready(namespace, n)["status"] for n in declared}
    assert {n: s["clientId"] for n, s in again.items()} == first
    assert remote_ids(form, sim) == before  # one remote client each, no new one
    kube.wait_event(namespace, "Reclaimed")
    for name in declared:
        assert authenticates(sim, kube.secret_data(namespace, f"{name}-credentials"))
        assert again[name]["retiringSecrets"], name  # the old secret retires with the grace
    # A secret nobody holds stops working: the old ones are revoked after the grace.
    wait_for(lambda: not any(authenticates(sim, data) for data in old.values()),
             timeout=GRACE + QUICK, what="the old secrets revoked after the grace")
    for name in declared:
        assert authenticates(sim, kube.secret_data(namespace, f"{name}-credentials"))


def test_another_namespace_cannot_take_a_gone_resources_client(
        estate_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str,
        other_namespace: str, cluster_tenant: Callable[..., str], form: Any,
        sim: Any) -> None:
    tenant = cluster_tenant(f"estate-open-{form.api_version}",
                            **tenant_spec(form, adoption="Allow"))
    chosen = manifests(form, tenant)["chosen"]
    operator = estate_operator("estate", CCOPERATOR_NAMESPACES=f"{namespace},{other_namespace}")
    operator.start()
    kube.create_ccc(namespace, "victim", chosen)
    client_id = kube.wait_ready(namespace, "victim")["status"]["clientId"]
    operator.stop()
    gone_without_the_operator(kube, namespace, ["victim"])
    operator.start()

    since = last_seq(sim)
    kube.create_ccc(other_namespace, "grab", {**chosen, "adopt": True})
    kube.create_ccc(other_namespace, "ask", chosen)
    for name in ("grab", "ask"):
        message = kube.wait_reason(other_namespace, name, "ClientIdTaken")["status"][
            "conditions"][0]["message"]
        assert namespace not in message  # never names the other namespace
    assert writes_on(sim, {client_id}, since) == []
    assert kube.secret(other_namespace, "grab-credentials") is None

    # The rightful declaration comes back and takes its client back.
    kube.create_ccc(namespace, "victim", chosen)
    assert kube.wait_ready(namespace, "victim")["status"]["clientId"] == client_id
    assert authenticates(sim, kube.secret_data(namespace, "victim-credentials"))
    assert [c["ClientId"] for c in form.api.list_clients(form.tenant_id)].count(client_id) == 1


# ------------------------------------------------------------------ a second control plane


@dataclass
class Plane:
    plane: ControlPlane
    kube: Kube

    def namespace(self, name: str) -> str:
        self.kube.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
        return name


@pytest.fixture(scope="module")
def second_plane(sim_process: Any) -> Iterator[Plane]:
    """Another cluster, with its own etcd: a rebuilt cluster, or a blue/green sibling."""
    with ControlPlane() as plane:
        plane.kubectl("apply", "--server-side", "-k", str(CRD_DIR))
        for name in CRD_NAMES:
            plane.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
        api = api_client_from_kubeconfig(plane.kubeconfig)
        try:
            yield Plane(plane, Kube(api))
        finally:
            api.close()


def test_a_fresh_control_plane_finds_the_same_clients(
        estate_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], second_plane: Plane, form: Any,
        sim: Any) -> None:
    """The whole control plane's data is gone; a fresh one of the same cluster name, against
    the same identity tenant, finds every client again."""
    tenant = cluster_tenant(f"estate-{form.api_version}", **tenant_spec(form))
    declared = manifests(form, tenant)
    operator = estate_operator("rebuilt")
    operator.start()
    apply(kube, namespace, declared)
    first = {n: kube.wait_ready(namespace, n)["status"]["clientId"] for n in declared}
    before = remote_ids(form, sim)
    operator.stop()

    fresh = second_plane
    apply_object(fresh.plane, cluster_tenant_object(tenant, tenant_spec(form)))
    fresh.namespace(namespace)
    estate_operator("rebuilt", kubeconfig=fresh.plane.kubeconfig).start()
    apply(fresh.kube, namespace, declared)
    assert {n: fresh.kube.wait_ready(namespace, n)["status"]["clientId"]
            for n in declared} == first
    assert remote_ids(form, sim) == before
    for name in declared:
        assert authenticates(sim, fresh.kube.secret_data(namespace, f"{name}-credentials"))


def test_two_live_clusters_keep_their_own_clients_and_hand_one_over(
        estate_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], second_plane: Plane, form: Any,
        sim: Any) -> None:
    """Blue and green run the same manifests. Each has its own derived client; the
    caller-chosen one is blue's until green takes it over (adopt: true where green's tenant
    object allows adoption). Blue then writes nothing to it and says OwnedElsewhere."""
    blue_tenant = cluster_tenant(f"estate-{form.api_version}", **tenant_spec(form))
    declared = manifests(form, blue_tenant)
    blue = estate_operator("blue", CCOPERATOR_RESYNC_PERIOD="4s").start()
    apply(kube, namespace, declared)
    blue_ids = {n: kube.wait_ready(namespace, n)["status"]["clientId"] for n in declared}

    green = second_plane
    apply_object(green.plane, cluster_tenant_object(blue_tenant,
                                                    tenant_spec(form, adoption="Allow")))
    green.namespace(namespace)
    green_op = estate_operator("green", kubeconfig=green.plane.kubeconfig,
                               CCOPERATOR_RESYNC_PERIOD="4s").start()
    apply(green.kube, namespace, declared)
    green_derived = green.kube.wait_ready(namespace, "derived")["status"]["clientId"]
    assert green_derived != blue_ids["derived"]  # each cluster its own client
    green.kube.wait_reason(namespace, "chosen", "ClientIdTaken")
    time.sleep(5)  # a resync of each: neither revokes the other's secrets
    for name in declared:
        assert authenticates(sim, kube.secret_data(namespace, f"{name}-credentials"))
    assert authenticates(sim, green.kube.secret_data(namespace, "derived-credentials"))

    # The handover.
    green.kube.patch_ccc(namespace, "chosen", {"spec": {"adopt": True}})
    assert green.kube.wait_ready(namespace, "chosen")["status"]["clientId"] == blue_ids["chosen"]
    since = last_seq(sim)
    kube.patch_ccc(namespace, "chosen", {"metadata": {"annotations": {
        "identity.ccoperator.io/rotate": "after-the-handover"}}})
    kube.wait_reason(namespace, "chosen", "OwnedElsewhere", timeout=QUICK)
    time.sleep(9)  # two more resyncs of each cluster
    assert writes_on(sim, {blue_ids["chosen"]}, since) == []
    assert authenticates(sim, green.kube.secret_data(namespace, "chosen-credentials"))
    # Blue's Secret is kept as it was; the handover left the secrets it held to the tenant.
    assert authenticates(sim, kube.secret_data(namespace, "chosen-credentials"))
    # Deleting blue's resource leaves green's client alone.
    kube.delete_ccc(namespace, "chosen")
    kube.wait_gone(namespace, "chosen")
    assert blue_ids["chosen"] in remote_ids(form, sim)
    assert writes_on(sim, {blue_ids["chosen"]}, since) == []
    green_op.stop()
    blue.stop()


# ------------------------------------------------------------------------------ leftovers


def orphaned(kube: Kube, tenant: str) -> int | None:
    obj = kube.custom.get_cluster_custom_object("identity.ccoperator.io", "v1alpha1",
                                                 "clusteridentitytenants", tenant)
    count = (obj.get("status") or {}).get("orphanedClients")
    return int(count) if count is not None else None


def test_leftovers_are_reported_and_a_client_declared_again_is_kept(
        estate_operator: Callable[..., OperatorProcess], kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], form: Any, sim: Any) -> None:
    """Orphans are counted within one resync of the start; with orphans: Delete, one declared
    again within the grace is taken back, not deleted (the deletion after the grace, which
    takes at least 10 minutes, is tested on plain objects: tests/unit/test_orphans.py)."""
    tenant = cluster_tenant(f"estate-orphans-{form.api_version}",
                            **tenant_spec(form, orphans="Delete", orphanGracePeriod="10m"))
    declared = manifests(form, tenant)
    operator = estate_operator("leftover", CCOPERATOR_RESYNC_PERIOD="5s",
                               CCOPERATOR_ORPHAN_SCAN_PERIOD="5s")
    operator.start()
    apply(kube, namespace, declared)
    ids = {n: kube.wait_ready(namespace, n)["status"]["clientId"] for n in declared}
    operator.stop()
    gone_without_the_operator(kube, namespace, ["derived"])  # no longer in Git
    since = last_seq(sim)
    operator.start()
    wait_for(lambda: orphaned(kube, tenant) == 1, timeout=QUICK,
             what="one orphan reported within a resync")
    label = f"ClusterIdentityTenant/{tenant}"
    assert operator.metric("ccoperator_orphaned_clients", tenant_object=label) == 1
    assert writes_on(sim, set(ids.values()), since) == []  # reported, nothing deleted

    kube.create_ccc(namespace, "derived", declared["derived"])  # declared again in the grace
    assert kube.wait_ready(namespace, "derived")["status"]["clientId"] == ids["derived"]
    wait_for(lambda: orphaned(kube, tenant) == 0, timeout=QUICK, what="no orphan left")
    assert ids["derived"] in remote_ids(form, sim)
