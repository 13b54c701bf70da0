"""Create, update, drift, delete: the operator as its own process, real API server, simulator."""

from __future__ import annotations

from typing import Any

from ccoperator.resource import derived_client_id

from .support import Kube, OperatorProcess, token_status, wait_for

TENANT = "demo-tenant"
MEMBER = "6b1d0b52-0000-4000-8000-00000000e3e1"
CONTRIBUTOR = "6b1d0b52-0000-4000-8000-00000000c041"


def spec(**over: Any) -> dict[str, Any]:
    # ClusterIdentityTenant "e2e" (tests/crd_fixtures.py): tenant TENANT, every namespace.
    return {"tenantRef": {"name": "e2e"}, "roleIds": [MEMBER], **over}


def authenticates(sim: Any, data: dict[str, str]) -> bool:
    return token_status(sim.token_url, data["clientId"], data["clientSecret"]) == 200


def test_create_gives_ready_and_working_credentials(operator: OperatorProcess, kube: Kube,
                                                    namespace: str, sim: Any,
                                                    sim_api: Any) -> None:
    created = kube.create_ccc(namespace, "app", spec(name="My app"))
    obj = kube.wait_ready(namespace, "app")
    status = obj["status"]
    client_id = derived_client_id(created["metadata"]["uid"])
    assert status["clientId"] == client_id
    assert status["secretName"] == "app-credentials"
    assert status["observedGeneration"] == 1
    assert isinstance(status["currentSecret"]["id"], int)

    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None
    assert set(data) == {"clientId", "clientSecret", "tenantId", "tokenUrl", "identityUrl"}
    assert data["clientId"] == client_id and data["tenantId"] == TENANT
    assert data["tokenUrl"] == sim.token_url
    assert authenticates(sim, data)

    remote = sim_api.get_client(TENANT, client_id)
    assert remote == {"ClientId": client_id, "Name": "My app", "RoleIds": [MEMBER],
                      "Enabled": True}
    secret = kube.secret(namespace, "app-credentials")
    assert secret is not None
    refs = secret.metadata.owner_references
    assert refs and refs[0].uid == created["metadata"]["uid"] and refs[0].controller
    assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "ccoperator"
    assert data["clientSecret"] not in str(obj)  # never in status or metadata


def test_spec_change_is_applied_remotely(operator: OperatorProcess, kube: Kube,
                                         namespace: str, sim_api: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    kube.patch_ccc(namespace, "app", {"spec": {"roleIds": [MEMBER, CONTRIBUTOR],
                                               "enabled": False, "name": "renamed"}})
    wait_for(lambda: (sim_api.get_client(TENANT, client_id) or {}).get("Name") == "renamed",
             what="remote update")
    remote = sim_api.get_client(TENANT, client_id)
    assert sorted(remote["RoleIds"]) == sorted([MEMBER, CONTRIBUTOR])
    assert remote["Enabled"] is False
    wait_for(lambda: (kube.get_ccc(namespace, "app") or {}).get("status", {})
             .get("observedGeneration") == 2, what="observedGeneration 2")


def test_remote_drift_is_put_back_on_resync(operator: OperatorProcess, kube: Kube,
                                            namespace: str, sim_api: Any) -> None:
    kube.create_ccc(namespace, "app", spec(name="kept"))
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    sim_api.put_client(TENANT, client_id, {"ClientId": client_id, "Name": "tampered",
                                           "RoleIds": [CONTRIBUTOR], "Enabled": False})
    wait_for(lambda: (sim_api.get_client(TENANT, client_id) or {}).get("Name") == "kept",
             timeout=30, what="drift corrected")
    remote = sim_api.get_client(TENANT, client_id)
    assert remote["RoleIds"] == [MEMBER] and remote["Enabled"] is True


def test_remote_deleted_out_of_band_is_recreated(operator: OperatorProcess, kube: Kube,
                                                 namespace: str, sim: Any,
                                                 sim_api: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    old = kube.secret_data(namespace, "app-credentials")
    assert old is not None
    sim_api.delete_client(TENANT, client_id)
    assert not authenticates(sim, old)
    wait_for(lambda: sim_api.get_client(TENANT, client_id), timeout=30, what="recreated")
    new = wait_for(lambda: (d := kube.secret_data(namespace, "app-credentials")) and
                   d["clientSecret"] != old["clientSecret"] and d, timeout=30,
                   what="new credentials")
    assert new["clientId"] == client_id  # the same id where the service allows it
    assert authenticates(sim, new)
    reasons = {e.reason for e in kube.events(namespace)}
    assert "Recreated" in reasons


def test_deleted_secret_is_restored_and_lost_one_revoked(operator: OperatorProcess,
                                                         kube: Kube, namespace: str,
                                                         sim: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    kube.wait_ready(namespace, "app")
    old = kube.secret_data(namespace, "app-credentials")
    assert old is not None
    kube.core.delete_namespaced_secret("app-credentials", namespace)
    new = wait_for(lambda: kube.secret_data(namespace, "app-credentials"), timeout=30,
                   what="Secret restored")
    assert new["clientSecret"] != old["clientSecret"]
    assert authenticates(sim, new)
    wait_for(lambda: not authenticates(sim, old), timeout=30, what="old secret revoked")


def test_edited_secret_is_restored(operator: OperatorProcess, kube: Kube, namespace: str,
                                   sim: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    kube.wait_ready(namespace, "app")
    old = kube.secret_data(namespace, "app-credentials")
    assert old is not None
    kube.core.patch_namespaced_secret("app-credentials", namespace,
                                      {"stringData": {"clientSecret": "edited-by-hand"}})
    new = wait_for(lambda: (d := kube.secret_data(namespace, "app-credentials")) and
                   d["clientSecret"] not in ("edited-by-hand", old["clientSecret"]) and d,
                   timeout=30, what="Secret repaired")
    assert authenticates(sim, new)
    assert not authenticates(sim, old)


def test_delete_removes_remote_client_and_secret(operator: OperatorProcess, kube: Kube,
                                                 namespace: str, sim_api: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    assert sim_api.get_client(TENANT, client_id) is None
    # The Secret goes with its owner (garbage collector of the real controller-manager).
    wait_for(lambda: kube.secret(namespace, "app-credentials") is None, timeout=60,
             what="Secret garbage-collected")


def test_orphan_policy_keeps_remote_client(operator: OperatorProcess, kube: Kube,
                                           namespace: str, sim_api: Any) -> None:
    kube.create_ccc(namespace, "app", spec(deletionPolicy="Orphan"))
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    assert sim_api.get_client(TENANT, client_id) is not None


def test_delete_when_client_already_gone_does_not_hang(operator: OperatorProcess, kube: Kube,
                                                       namespace: str, sim_api: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    operator.stop()
    sim_api.delete_client(TENANT, client_id)
    operator.start()
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app", timeout=30)


def test_failing_delete_is_retried_and_reported(operator: OperatorProcess, kube: Kube,
                                                namespace: str, sim: Any,
                                                sim_api: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    sim.admin.add_fault(route="clients.delete", status=403)
    kube.delete_ccc(namespace, "app")
    obj = kube.wait_reason(namespace, "app", "DeleteFailed", timeout=30)
    assert "Orphan" in obj["status"]["conditions"][0]["message"]
    assert sim_api.get_client(TENANT, client_id) is not None
    sim.admin.clear_faults()
    kube.wait_gone(namespace, "app", timeout=90)
    assert sim_api.get_client(TENANT, client_id) is None
