"""Create, update, drift, delete: the operator as its own process, real API server, simulator.

Every test runs once per form of the identity API (the `form` fixture: a tenant object in the
unversioned form, and one in the v1 form)."""

from __future__ import annotations

from typing import Any

from .support import (
    Kube,
    OperatorProcess,
    default_client_id,
    identity_writes,
    token_status,
    wait_for,
)

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
                                                    form: Any) -> None:
    created = kube.create_ccc(namespace, "app", form.spec(name="My app"))
    obj = kube.wait_ready(namespace, "app")
    status = obj["status"]
    client_id = default_client_id(namespace, "app")
    assert status["clientId"] == client_id
    assert status["secretName"] == "app-credentials"
    assert status["observedGeneration"] == 1
    assert isinstance(status["currentSecret"]["id"], int)

    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None
    assert set(data) == {"clientId", "clientSecret", "tenantId", "tokenUrl", "identityUrl"}
    assert data["clientId"] == client_id and data["tenantId"] == form.tenant_id
    assert data["tokenUrl"] == sim.token_url
    assert authenticates(sim, data)

    remote = form.api.get_client(form.tenant_id, client_id)
    assert remote == {"ClientId": client_id, "Name": "My app", "RoleIds": [form.member],
                      "Enabled": True}
    secret = kube.secret(namespace, "app-credentials")
    assert secret is not None
    refs = secret.metadata.owner_references
    assert refs and refs[0].uid == created["metadata"]["uid"] and refs[0].controller
    assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "ccoperator"
    assert data["clientSecret"] not in str(obj)  # never in status or metadata
    if form.api_version == "v1":
        # Marked as ours: the declaration's owner key (cluster/namespace/name), no secret.
        raw = form.api.raw_client(form.tenant_id, client_id)
        assert raw is not None and raw["Tags"] == [f"ccoperator.io/owner=e2e/{namespace}/app"]
    secrets = form.api.secrets(form.tenant_id, client_id)
    # Both forms: the secret's description carries the mark (the unversioned form's only one).
    uid = created["metadata"]["uid"]
    assert [s["Description"] for s in secrets] == [
        f"ccoperator {namespace}/app [ccoperator.io/owner=e2e/{namespace}/app uid={uid}]"]


def test_spec_change_is_applied_remotely(operator: OperatorProcess, kube: Kube,
                                         namespace: str, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    kube.patch_ccc(namespace, "app", {"spec": {"roleIds": [form.member, form.contributor],
                                               "enabled": False, "name": "renamed"}})
    wait_for(lambda: (form.api.get_client(form.tenant_id, client_id) or {}).get("Name")
             == "renamed", what="remote update")
    remote = form.api.get_client(form.tenant_id, client_id)
    assert sorted(remote["RoleIds"]) == sorted([form.member, form.contributor])
    assert remote["Enabled"] is False
    wait_for(lambda: (kube.get_ccc(namespace, "app") or {}).get("status", {})
             .get("observedGeneration") == 2, what="observedGeneration 2")


def test_remote_drift_is_put_back_on_resync(operator: OperatorProcess, kube: Kube,
                                            namespace: str, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec(name="kept"))
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    # Both roles: a v1 client must keep the Member role (the service refuses it otherwise).
    form.api.put_client(form.tenant_id, client_id, {
        "ClientId": client_id, "Name": "tampered", "RoleIds": [form.member, form.contributor],
        "Enabled": False})
    wait_for(lambda: (form.api.get_client(form.tenant_id, client_id) or {}).get("Name") == "kept",
             timeout=30, what="drift corrected")
    remote = form.api.get_client(form.tenant_id, client_id)
    assert remote["RoleIds"] == [form.member] and remote["Enabled"] is True


def test_remote_deleted_out_of_band_is_recreated(operator: OperatorProcess, kube: Kube,
                                                 namespace: str, sim: Any,
                                                 form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    old = kube.secret_data(namespace, "app-credentials")
    assert old is not None
    form.api.delete_client(form.tenant_id, client_id)
    assert not authenticates(sim, old)
    wait_for(lambda: form.api.get_client(form.tenant_id, client_id), timeout=30, what="recreated")
    new = wait_for(lambda: (d := kube.secret_data(namespace, "app-credentials")) and
                   d["clientSecret"] != old["clientSecret"] and d, timeout=30,
                   what="new credentials")
    assert new["clientId"] == client_id  # the same id where the service allows it
    assert authenticates(sim, new)
    kube.wait_event(namespace, "Recreated")


def test_deleted_secret_is_restored_and_lost_one_revoked(operator: OperatorProcess,
                                                         kube: Kube, namespace: str,
                                                         sim: Any, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
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
                                   sim: Any, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
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
                                                 namespace: str, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    assert form.api.get_client(form.tenant_id, client_id) is None
    # The Secret goes with its owner (garbage collector of the real controller-manager).
    wait_for(lambda: kube.secret(namespace, "app-credentials") is None, timeout=60,
             what="Secret garbage-collected")


def test_orphan_policy_keeps_remote_client(operator: OperatorProcess, kube: Kube,
                                           namespace: str, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec(deletionPolicy="Orphan"))
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    assert form.api.get_client(form.tenant_id, client_id) is not None


def test_delete_when_client_already_gone_does_not_hang(operator: OperatorProcess, kube: Kube,
                                                       namespace: str, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    operator.stop()
    form.api.delete_client(form.tenant_id, client_id)
    operator.start()
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app", timeout=30)


def test_failing_delete_is_retried_and_reported(operator: OperatorProcess, kube: Kube,
                                                namespace: str, sim: Any,
                                                form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    sim.admin.add_fault(route="clients.delete", status=403)
    kube.delete_ccc(namespace, "app")
    obj = kube.wait_reason(namespace, "app", "DeleteFailed", timeout=30)
    assert "Orphan" in obj["status"]["conditions"][0]["message"]
    assert form.api.get_client(form.tenant_id, client_id) is not None
    sim.admin.clear_faults()
    kube.wait_gone(namespace, "app", timeout=90)
    assert form.api.get_client(form.tenant_id, client_id) is None


def test_failing_read_before_delete_is_reported(operator: OperatorProcess, kube: Kube,
                                                namespace: str, sim: Any, form: Any) -> None:
    """The client's mark is read before it is deleted: a refused read says so the way a
    refused DELETE does, and the deletion goes through once the read works."""
    kube.create_ccc(namespace, "app", form.spec())
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    # v1: the client (its tags); unversioned: its secrets (their descriptions).
    read_route = "clients.get" if form.api_version == "v1" else "secrets.list"
    written = [w for w in identity_writes(sim) if w[2] == client_id]  # its create, its secret
    sim.admin.add_fault(route=read_route, tenant_id=form.tenant_id, status=403)
    kube.delete_ccc(namespace, "app")
    obj = kube.wait_reason(namespace, "app", "DeleteFailed", timeout=30)
    assert "Orphan" in obj["status"]["conditions"][0]["message"]
    # Nothing written to the client while its mark cannot be read (the test's own reads
    # are refused too, so the simulator's call log says it).
    assert [w for w in identity_writes(sim) if w[2] == client_id] == written
    sim.admin.clear_faults()
    kube.wait_gone(namespace, "app", timeout=90)
    assert form.api.get_client(form.tenant_id, client_id) is None


def test_orphan_deletion_lets_go_when_the_release_mark_is_refused(
        operator: OperatorProcess, kube: Kube, namespace: str, sim: Any, form: Any) -> None:
    """deletionPolicy: Orphan keeps the client; marking it released is a courtesy, so a
    refused mark write never holds the resource."""
    kube.create_ccc(namespace, "app", form.spec(deletionPolicy="Orphan"))
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    # v1: the released tag (a PUT of the client); unversioned: the current secret's description.
    mark_route = "clients.update" if form.api_version == "v1" else "secrets.update"
    sim.admin.add_fault(route=mark_route, tenant_id=form.tenant_id, status=403)
    try:
        kube.delete_ccc(namespace, "app")
        kube.wait_gone(namespace, "app", timeout=30)
    finally:
        sim.admin.clear_faults()
    assert form.api.get_client(form.tenant_id, client_id) is not None


def test_access_token_lifetime_on_v1_and_refused_on_unversioned(
        operator: OperatorProcess, kube: Kube, namespace: str, form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec(accessTokenLifetime=600))
    if form.api_version == "unversioned":
        obj = kube.wait_reason(namespace, "app", "InvalidSpec")
        assert "v1" in obj["status"]["conditions"][0]["message"]
        assert kube.secret(namespace, "app-credentials") is None
        return
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]
    raw = form.api.raw_client(form.tenant_id, client_id)
    assert raw is not None and raw["AccessTokenLifetime"] == 600
    kube.patch_ccc(namespace, "app", {"spec": {"accessTokenLifetime": 900}})
    wait_for(lambda: (form.api.raw_client(form.tenant_id, client_id) or {})
             .get("AccessTokenLifetime") == 900, what="lifetime updated")


def test_v1_member_role_is_explained(operator: OperatorProcess, kube: Kube, namespace: str,
                                     sim: Any, e2e_v1_tenant: str) -> None:
    # Only the v1 form requires the tenant's Member role in every client's RoleIds.
    kube.create_ccc(namespace, "app", {"tenantRef": {"name": e2e_v1_tenant},
                                       "roleIds": [sim.v1_roles["Tenant Contributor"]]})
    obj = kube.wait_reason(namespace, "app", "InvalidSpec")
    assert "Member role" in obj["status"]["conditions"][0]["message"]
