"""managementPolicy: Observe, end to end: an existing client is read, compared and reported,
never written to; switched to Manage it is adopted. The many-clients flow through
`ccoperator import` and `plan` is tests/e2e/test_import_plan.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .support import Kube, OperatorProcess, token_status, wait_for

WRITES = ("POST", "PUT", "DELETE")


def writes(sim: Any, since: int) -> list[dict[str, Any]]:
    return [c for c in sim.admin.calls(since=since)
            if c["Method"] in WRITES and c["Route"] != "token"]


def last_seq(sim: Any) -> int:
    calls = sim.admin.calls()
    return int(calls[-1]["Seq"]) if calls else 0


def test_observe_reports_drift_writes_nothing_and_manage_adopts(
        operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], form: Any, sim: Any) -> None:
    tenant = cluster_tenant(f"observe-{form.api_version}", tenantId=form.tenant_id,
                            apiVersion=form.api_version, adoption="Allow",
                            allowedRoleIds=[form.member, form.contributor])
    made = form.api.create_client(form.tenant_id, {
        "ClientId": f"hand-made-{form.api_version}", "Name": "Made by hand",
        "RoleIds": [form.member], "Enabled": True, "SecretDescription": "by hand"})
    client_id = made["ClientId"]
    since = last_seq(sim)
    spec = {"tenantRef": {"name": tenant}, "clientId": client_id, "adopt": True,
            "managementPolicy": "Observe", "name": "Made by hand",
            "roleIds": [form.member, form.contributor]}
    kube.create_ccc(namespace, "observed", spec)
    obj = kube.wait_reason(namespace, "observed", "Observed")
    status = obj["status"]
    assert status["conditions"][0]["status"] == "True"
    assert status["drift"] == [f"roleIds: spec [{', '.join(sorted(spec['roleIds']))}] "
                               f"remote [{form.member}]"]
    assert status["driftCount"] == 1
    observed = status["observed"]
    assert observed["name"] == "Made by hand" and observed["roleIds"] == [form.member]
    assert [s["id"] for s in observed["secrets"]] == [made["SecretId"]]
    assert "clientId" not in status  # nothing recorded as managed
    assert kube.secret(namespace, "observed-credentials") is None
    assert not obj["metadata"].get("finalizers")
    # A change (the rotate annotation) reads again; still nothing written.
    kube.patch_ccc(namespace, "observed", {"metadata": {"annotations": {
        "identity.ccoperator.io/rotate": "now"}}})
    wait_for(lambda: any(c["ClientId"] == client_id and c["Method"] == "GET"
                         for c in sim.admin.calls(since=since)), timeout=30,
             what="the observed client read")
    assert writes(sim, since) == []

    # Manage: an adoption. One update (the roles) and one secret; the old secret stays valid.
    kube.patch_ccc(namespace, "observed", {"spec": {"managementPolicy": "Manage"}})
    obj = kube.wait_reason(namespace, "observed", "ClientReady")
    assert obj["status"]["clientId"] == client_id and obj["status"]["adopted"] is True
    assert "observed" not in obj["status"] and "drift" not in obj["status"]
    by_route = sorted(c["Route"] for c in writes(sim, since))
    assert by_route == ["clients.update", "secrets.add"], by_route
    data = kube.secret_data(namespace, "observed-credentials")
    assert data is not None and token_status(sim.token_url, client_id,
                                             data["clientSecret"]) == 200
    assert token_status(sim.token_url, client_id, made["ClientSecret"]) == 200
    remote = form.api.get_client(form.tenant_id, client_id)
    assert sorted(remote["RoleIds"]) == sorted(spec["roleIds"])


def test_observe_refusals_and_deletion_write_nothing(
        operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim: Any, sim_api: Any) -> None:
    denying = cluster_tenant("observe-denied", adoption="Deny")
    allowing = cluster_tenant("observe-allowed", adoption="Allow")
    member = sim.roles["Tenant Member"]
    since = last_seq(sim)
    kube.create_ccc(namespace, "denied", {"tenantRef": {"name": denying}, "roleIds": [member],
                                          "clientId": "anything", "managementPolicy": "Observe"})
    message = kube.wait_reason(namespace, "denied", "PolicyDenied")["status"]["conditions"][0][
        "message"]
    assert "managementPolicy: Observe" in message
    kube.create_ccc(namespace, "missing", {"tenantRef": {"name": allowing}, "roleIds": [member],
                                           "clientId": "no-such-client",
                                           "managementPolicy": "Observe"})
    kube.wait_reason(namespace, "missing", "ClientNotFound")
    # Deleting an observed resource deletes nothing remote.
    sim_api.create_client(sim.admin_tenant_id, {"ClientId": "kept-observed", "Name": "kept",
                                                "RoleIds": [member]})
    kube.create_ccc(namespace, "kept", {"tenantRef": {"name": allowing}, "roleIds": [member],
                                        "clientId": "kept-observed",
                                        "managementPolicy": "Observe"})
    kube.wait_reason(namespace, "kept", "Observed")
    kube.delete_ccc(namespace, "kept")
    kube.wait_gone(namespace, "kept")
    assert sim_api.get_client(sim.admin_tenant_id, "kept-observed") is not None
    assert [c for c in writes(sim, since) if c["ClientId"] != "kept-observed"] == []
    assert [c["Route"] for c in writes(sim, since) if c["ClientId"] == "kept-observed"] == [
        "clients.create"]  # the test's own create, nothing of the operator's
