"""Adopt, taken ids, foreign Secrets, and the identity service's refusals as conditions."""

from __future__ import annotations

from typing import Any

from kubernetes import client as k8s

from .support import Kube, OperatorProcess, token_status, wait_for
from .test_lifecycle import MEMBER, TENANT, spec

# A role id of the admitted form (the CRDs want UUIDs) that no simulator tenant has.
NOT_A_ROLE = "0badc0de-0000-4000-8000-000000000000"


def test_adopt_takes_over_existing_client(operator: OperatorProcess, kube: Kube,
                                          namespace: str, sim: Any, form: Any) -> None:
    existing = form.api.create_client(form.tenant_id, {
        "ClientId": "legacy-app", "Name": "legacy", "RoleIds": [form.member], "Enabled": False})
    kube.create_ccc(namespace, "app", form.spec(clientId="legacy-app", adopt=True,
                                                name="adopted"))
    obj = kube.wait_ready(namespace, "app")
    assert obj["status"]["clientId"] == "legacy-app" and obj["status"]["adopted"] is True
    remote = form.api.get_client(form.tenant_id, "legacy-app")
    assert remote["Name"] == "adopted" and remote["Enabled"] is True
    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None and data["clientId"] == "legacy-app"
    assert token_status(sim.token_url, "legacy-app", data["clientSecret"]) == 200
    # The secret issued before adoption is not ours to revoke.
    assert token_status(sim.token_url, "legacy-app", existing["ClientSecret"]) == 200
    ids = [c["ClientId"] for c in form.api.list_clients(form.tenant_id)]
    assert ids.count("legacy-app") == 1 and len(set(ids) - {sim.admin_client_id}) == 1
    if form.api_version == "v1":
        tags = (form.api.raw_client(form.tenant_id, "legacy-app") or {})["Tags"]
        assert tags == [f"ccoperator.io/owner=e2e/{namespace}/app"]


def test_v1_client_tagged_for_another_resource_is_not_adopted(
        operator: OperatorProcess, kube: Kube, namespace: str, sim: Any,
        e2e_v1_tenant: str) -> None:
    # As an operator before owner keys would have left it: its mark names a resource uid
    # this operator cannot see (no namespace to hand over from). Even with adopt: true, it
    # is not ours.
    from .conftest import SimApi

    api = SimApi(sim.base_url, sim.token_url, sim.admin_client_id, sim.admin_client_secret,
                 "v1")
    member = sim.v1_roles["Tenant Member"]
    api.create_client(sim.v1_tenant_id, {"ClientId": "elsewhere", "Name": "theirs",
                                         "RoleIds": [member],
                                         "Tags": ["ccoperator.io/owner=another-uid"]})
    before = api.raw_client(sim.v1_tenant_id, "elsewhere")
    kube.create_ccc(namespace, "app", {"tenantRef": {"name": e2e_v1_tenant},
                                       "roleIds": [member], "clientId": "elsewhere",
                                       "adopt": True})
    obj = kube.wait_reason(namespace, "app", "ClientIdTaken")
    assert "its mark says so" in obj["status"]["conditions"][0]["message"]
    assert api.raw_client(sim.v1_tenant_id, "elsewhere") == before
    api.close()


def test_existing_id_without_adopt_is_client_id_taken(operator: OperatorProcess, kube: Kube,
                                                      namespace: str, sim_api: Any) -> None:
    sim_api.create_client(TENANT, {"ClientId": "taken", "Name": "someone else's",
                                   "RoleIds": [MEMBER]})
    kube.create_ccc(namespace, "app", spec(clientId="taken"))
    obj = kube.wait_reason(namespace, "app", "ClientIdTaken")
    cond = obj["status"]["conditions"][0]
    assert cond["status"] == "False" and "spec.adopt" in cond["message"]
    assert sim_api.get_client(TENANT, "taken")["Name"] == "someone else's"
    assert kube.secret(namespace, "app-credentials") is None
    kube.wait_event(namespace, "ClientIdTaken")


def test_foreign_secret_is_never_overwritten(operator_factory: Any, kube: Kube,
                                             namespace: str, sim_api: Any) -> None:
    kube.core.create_namespaced_secret(namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="app-credentials"), string_data={"mine": "keep"}))
    operator_factory(CCOPERATOR_RESYNC_PERIOD="4s").start()
    kube.create_ccc(namespace, "app", spec())
    obj = kube.wait_reason(namespace, "app", "SecretConflict")
    assert "not owned" in obj["status"]["conditions"][0]["message"]
    assert kube.secret_data(namespace, "app-credentials") == {"mine": "keep"}
    assert len(sim_api.list_clients(TENANT)) == 1  # nothing created remotely
    kube.wait_event(namespace, "SecretConflict")
    # Free the name: the operator proceeds on its own at the next resync.
    kube.core.delete_namespaced_secret("app-credentials", namespace)
    kube.wait_ready(namespace, "app", timeout=60)


def test_unknown_tenant_is_reported(operator: OperatorProcess, kube: Kube, namespace: str,
                                    cluster_tenant: Any) -> None:
    cluster_tenant("no-such", tenantId="no-such-tenant")
    kube.create_ccc(namespace, "app", spec(tenantRef={"name": "no-such"}))
    obj = kube.wait_reason(namespace, "app", "TenantNotFound")
    assert "no-such-tenant" in obj["status"]["conditions"][0]["message"]


def test_unknown_role_is_invalid_spec(operator: OperatorProcess, kube: Kube, namespace: str,
                                      cluster_tenant: Any) -> None:
    # The tenant object allows the bogus id (else policy refuses it first, PolicyDenied): the
    # identity service is the one that rejects it.
    cluster_tenant("lenient", allowedRoleIds=[MEMBER, NOT_A_ROLE])
    kube.create_ccc(namespace, "app", spec(tenantRef={"name": "lenient"}, roleIds=[NOT_A_ROLE]))
    obj = kube.wait_reason(namespace, "app", "InvalidSpec")
    assert "roleIds" in obj["status"]["conditions"][0]["message"]
    # Fixing the spec is enough: the same resource becomes Ready.
    kube.patch_ccc(namespace, "app", {"spec": {"roleIds": [MEMBER]}})
    kube.wait_ready(namespace, "app")


def test_tenant_without_admin_role_is_forbidden(operator: OperatorProcess, kube: Kube,
                                                namespace: str, sim: Any,
                                                cluster_tenant: Any) -> None:
    # A tenant administered by another client: the operator's client holds no role there.
    sim.admin.bootstrap({"tenants": [{"id": "other-tenant", "roles": {
        "Account Administrator": "aa000000-0000-4000-8000-000000000001",
        "Tenant Member": "aa000000-0000-4000-8000-000000000002"}}],
        "admin": {"tenant": "other-tenant", "clientId": "other-admin"}})
    cluster_tenant("other", tenantId="other-tenant",
                   allowedRoleIds=["aa000000-0000-4000-8000-000000000002"])
    kube.create_ccc(namespace, "app", spec(tenantRef={"name": "other"},
                                           roleIds=["aa000000-0000-4000-8000-000000000002"]))
    obj = kube.wait_reason(namespace, "app", "Forbidden")
    assert "Account Administrator" in obj["status"]["conditions"][0]["message"]


def test_transient_failures_are_retried_until_ready(operator_factory: Any, kube: Kube,
                                                    namespace: str, sim: Any,
                                                    sim_api: Any) -> None:
    sim.admin.add_fault(route="clients.create", status=503, times=3)
    operator_factory().start()
    kube.create_ccc(namespace, "app", spec())
    obj = kube.wait_ready(namespace, "app", timeout=90)
    clients = [c for c in sim_api.list_clients(TENANT) if c["ClientId"] != sim.admin_client_id]
    assert [c["ClientId"] for c in clients] == [obj["status"]["clientId"]]


def test_secret_rename_moves_credentials(operator: OperatorProcess, kube: Kube,
                                         namespace: str, sim: Any) -> None:
    kube.create_ccc(namespace, "app", spec())
    kube.wait_ready(namespace, "app")
    old = kube.secret_data(namespace, "app-credentials")
    assert old is not None
    kube.patch_ccc(namespace, "app", {"spec": {"secret": {"name": "renamed-credentials"}}})
    new = wait_for(lambda: kube.secret_data(namespace, "renamed-credentials"), timeout=30,
                   what="renamed Secret")
    assert token_status(sim.token_url, new["clientId"], new["clientSecret"]) == 200
    wait_for(lambda: kube.secret(namespace, "app-credentials") is None, timeout=30,
             what="old Secret removed")
    wait_for(lambda: token_status(sim.token_url, old["clientId"], old["clientSecret"]) != 200,
             timeout=30, what="old credential revoked")
