"""Who may ask for what, end to end: tenant objects, namespaces, policy, one owner per client.

Every refusal is checked at the simulator: the refused resource caused no identity write of
any kind, and the victims' clients, Secrets and secrets are as they were. The operators here
resync every 10 minutes, so a re-evaluation seen within seconds comes from the change that
caused it, not from a resync.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from ccoperator.tenants.checker import PROBE_CLIENT_ID
from kubernetes import client as k8s

from tests.crd_fixtures import apply_object, cluster_tenant_object

from .support import Kube, OperatorProcess, token_status, wait_for
from .test_lifecycle import CONTRIBUTOR, MEMBER, TENANT

ADMIN_ROLE = "6b1d0b52-0000-4000-8000-00000000ad01"  # Account Administrator (simulator)
WRITES = ("POST", "PUT", "DELETE")
QUICK = 20.0  # seconds: well inside the 600 s resync of these operators


def identity_writes(sim: Any) -> list[dict[str, Any]]:
    """Every write to clients or secrets the simulator served (token requests excluded)."""
    return [c for c in identity_calls(sim) if c["Method"] in WRITES]


def identity_calls(sim: Any) -> list[dict[str, Any]]:
    """Every call on clients or secrets, reads too, except the tenant objects' own checks
    (a GET of the probe id per tenant object and check period, tenants/checker.py)."""
    return [c for c in sim.admin.calls()
            if str(c["Route"]).split(".")[0] in ("clients", "secrets")
            and c["ClientId"] != PROBE_CLIENT_ID]


def refused_cleanly(sim: Any) -> bool:
    """A refusal made no identity call at all (so certainly no write)."""
    calls = identity_calls(sim)
    assert identity_writes(sim) == [], calls
    assert calls == [], calls
    return True


def ref(name: str, kind: str = "ClusterIdentityTenant") -> dict[str, Any]:
    return {"tenantRef": {"kind": kind, "name": name}}


def ccc(name: str, *roles: str, **over: Any) -> tuple[str, dict[str, Any]]:
    return name, {**ref("strict"), "roleIds": list(roles or (MEMBER,)), **over}


def authenticates(sim: Any, kube: Kube, namespace: str, secret: str,
                  keys: tuple[str, str] = ("clientId", "clientSecret")) -> bool:
    data = kube.secret_data(namespace, secret)
    return data is not None and token_status(sim.token_url, data[keys[0]], data[keys[1]]) == 200


@pytest.fixture
def strict(cluster_tenant: Callable[..., str]) -> str:
    """The demo's kind of tenant: every namespace, member and contributor roles only,
    adoption denied."""
    return cluster_tenant("strict", allowedRoleIds=[MEMBER, CONTRIBUTOR])


def tenant_with_own_admin(sim: Any, tenant: str, admin: str, ids: str) -> tuple[str, str]:
    """A second tenant in the simulator, administered by a client of its own (the operator's
    holds no role there). `ids`: a prefix for its role ids. Returns (Member role, secret)."""
    member, secret = f"{ids}000000-0000-4000-8000-000000000002", f"{admin}-secret-value-0123456789"
    sim.admin.bootstrap({"tenants": [{"id": tenant, "roles": {
        "Account Administrator": f"{ids}000000-0000-4000-8000-000000000001",
        "Tenant Member": member}}],
        "admin": {"tenant": tenant, "clientId": admin, "secret": secret}})
    return member, secret


def make(kube: Kube, namespace: str, item: tuple[str, dict[str, Any]]) -> None:
    kube.create_ccc(namespace, item[0], item[1])


def message(obj: dict[str, Any]) -> str:
    return str(obj["status"]["conditions"][0]["message"])


# ------------------------------------------------------------------ the three attacks


def test_attack_admin_role_is_refused(tenancy_operator: OperatorProcess, kube: Kube,
                                      namespace: str, strict: str, sim: Any) -> None:
    sim.admin.clear_calls()
    make(kube, namespace, ccc("grab-admin", ADMIN_ROLE))
    obj = kube.wait_reason(namespace, "grab-admin", "PolicyDenied")
    assert ADMIN_ROLE in message(obj) and "allowedRoleIds" in message(obj)
    assert kube.secret(namespace, "grab-admin-credentials") is None
    assert refused_cleanly(sim)
    kube.wait_event(namespace, "PolicyDenied")
    assert tenancy_operator.metric("ccoperator_policy_denials_total",
                                   reason="PolicyDenied") >= 1


def test_attack_operator_client_is_reserved(tenancy_operator: OperatorProcess, kube: Kube,
                                            namespace: str, e2e_tenant: str, sim: Any,
                                            sim_api: Any) -> None:
    before = sim_api.get_client(TENANT, sim.admin_client_id)
    sim.admin.clear_calls()
    # Tenant "e2e" allows adoption and every role: only the reservation stands in the way.
    kube.create_ccc(namespace, "grab-operator", {**ref(e2e_tenant), "roleIds": [MEMBER],
                                                 "clientId": sim.admin_client_id,
                                                 "adopt": True})
    obj = kube.wait_reason(namespace, "grab-operator", "ClientIdReserved")
    assert sim.admin_client_id in message(obj)
    assert refused_cleanly(sim)
    assert sim_api.get_client(TENANT, sim.admin_client_id) == before
    assert token_status(sim.token_url, sim.admin_client_id, sim.admin_client_secret) == 200
    # Deleting the refused resource leaves the operator's client alone.
    kube.delete_ccc(namespace, "grab-operator")
    kube.wait_gone(namespace, "grab-operator")
    assert sim_api.get_client(TENANT, sim.admin_client_id) == before


@pytest.mark.parametrize("adoption", ["Deny", "Allow"])
def test_attack_other_namespaces_client_is_refused(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str, other_namespace: str,
        cluster_tenant: Callable[..., str], sim: Any, sim_api: Any, adoption: str) -> None:
    cluster_tenant("shared", adoption=adoption,
                   allowedRoleIds=[MEMBER, CONTRIBUTOR, ADMIN_ROLE])
    victim = {**ref("shared"), "roleIds": [MEMBER], "clientId": "billing-worker-demo"}
    kube.create_ccc(namespace, "billing-worker", victim)
    kube.wait_ready(namespace, "billing-worker")
    remote_before = sim_api.get_client(TENANT, "billing-worker-demo")
    secret_before = kube.secret_data(namespace, "billing-worker-credentials")
    sim.admin.clear_calls()

    kube.create_ccc(other_namespace, "takeover", {**victim, "roleIds": [ADMIN_ROLE],
                                                  "adopt": True})
    expected = "PolicyDenied" if adoption == "Deny" else "ClientIdTaken"
    obj = kube.wait_reason(other_namespace, "takeover", expected)
    assert namespace not in message(obj)  # never names the other namespace
    assert refused_cleanly(sim)
    assert sim_api.get_client(TENANT, "billing-worker-demo") == remote_before
    assert kube.secret_data(namespace, "billing-worker-credentials") == secret_before
    assert authenticates(sim, kube, namespace, "billing-worker-credentials")
    assert kube.secret(other_namespace, "takeover-credentials") is None
    # The attacker deleting its resource deletes nothing of the victim's.
    kube.delete_ccc(other_namespace, "takeover")
    kube.wait_gone(other_namespace, "takeover")
    assert sim_api.get_client(TENANT, "billing-worker-demo") == remote_before


# ------------------------------------------------------------------ references and namespaces


def test_missing_tenant_then_created_is_picked_up_at_once(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim: Any) -> None:
    sim.admin.clear_calls()
    kube.create_ccc(namespace, "early", {**ref("later"), "roleIds": [MEMBER]})
    obj = kube.wait_reason(namespace, "early", "TenantRefNotFound")
    assert "'later'" in message(obj)
    assert refused_cleanly(sim)
    cluster_tenant("later", allowedRoleIds=[MEMBER])
    kube.wait_ready(namespace, "early", timeout=QUICK)
    assert kube.get_ccc(namespace, "early")["status"]["tenantId"] == TENANT  # type: ignore[index]


def test_namespace_not_selected_until_labelled(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim: Any) -> None:
    cluster_tenant("team-a-only", allowedRoleIds=[MEMBER],
                   namespaceSelector={"matchLabels": {"team": "a"}})
    sim.admin.clear_calls()
    kube.create_ccc(namespace, "app", {**ref("team-a-only"), "roleIds": [MEMBER]})
    obj = kube.wait_reason(namespace, "app", "TenantNotAllowed")
    assert namespace in message(obj)
    assert refused_cleanly(sim)
    kube.core.patch_namespace(namespace, {"metadata": {"labels": {"team": "a"}}})
    kube.wait_ready(namespace, "app", timeout=QUICK)


def test_cluster_tenant_without_selector_serves_no_namespace(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        control_plane: Any, sim: Any) -> None:
    apply_object(control_plane, cluster_tenant_object("closed", {
        "tenantId": TENANT, "allowedRoleIds": [MEMBER]}))
    try:
        sim.admin.clear_calls()
        kube.create_ccc(namespace, "app", {**ref("closed"), "roleIds": [MEMBER]})
        kube.wait_reason(namespace, "app", "TenantNotAllowed")
        assert refused_cleanly(sim)
    finally:
        control_plane.kubectl("delete", "cit", "closed", "--wait=false")


# ------------------------------------------------------------------------------ the policy


@pytest.mark.parametrize(("spec", "named"), [
    ({"secret": {"expiresAfter": "721h"}}, "expiresAfter 721h"),
    ({"secret": {"expiresAfter": "0s"}}, "0s (never expires)"),
    ({"clientId": "x-demo", "adopt": True}, "adoption: Deny"),
    ({"clientId": "not-allowed"}, "allowedClientIds"),
])
def test_policy_refusals_name_what_was_refused(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim: Any, spec: dict[str, Any],
        named: str) -> None:
    cluster_tenant("strict", allowedRoleIds=[MEMBER], maxSecretLifetime="720h",
                   allowedClientIds=[".*-demo"])
    sim.admin.clear_calls()
    make(kube, namespace, ccc("refused", **spec))
    obj = kube.wait_reason(namespace, "refused", "PolicyDenied")
    assert named in message(obj)
    assert refused_cleanly(sim)


def test_unset_lifetime_takes_the_tenants_maximum(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim_api: Any) -> None:
    from datetime import UTC, datetime, timedelta

    cluster_tenant("strict", allowedRoleIds=[MEMBER], maxSecretLifetime="48h")
    make(kube, namespace, ccc("capped"))  # operator default: 2160h
    obj = kube.wait_ready(namespace, "capped")
    expires = datetime.fromisoformat(obj["status"]["currentSecret"]["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=48))) < timedelta(minutes=5)


def test_policy_change_refuses_without_touching_the_client(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim: Any, sim_api: Any) -> None:
    cluster_tenant("strict", allowedRoleIds=[MEMBER, CONTRIBUTOR])
    make(kube, namespace, ccc("app", CONTRIBUTOR))
    obj = kube.wait_ready(namespace, "app")
    client_id = obj["status"]["clientId"]
    remote_before = sim_api.get_client(TENANT, client_id)
    sim.admin.clear_calls()
    cluster_tenant("strict", allowedRoleIds=[MEMBER])  # contributor no longer granted
    obj = kube.wait_reason(namespace, "app", "PolicyDenied", timeout=QUICK)
    assert CONTRIBUTOR in message(obj)
    assert refused_cleanly(sim)
    assert sim_api.get_client(TENANT, client_id) == remote_before
    assert authenticates(sim, kube, namespace, "app-credentials")
    # Deleting the refused resource still cleans up its client.
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    assert sim_api.get_client(TENANT, client_id) is None


# ------------------------------------------------------------------------------ one owner


def test_two_at_once_with_one_id_have_exactly_one_owner(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str, other_namespace: str,
        e2e_tenant: str, sim: Any, sim_api: Any) -> None:
    spec = {**ref(e2e_tenant), "roleIds": [MEMBER], "clientId": "contested-id"}
    kube.create_ccc(namespace, "one", spec)
    kube.create_ccc(other_namespace, "two", spec)

    def outcome() -> dict[str, str] | None:
        reasons = {}
        for ns, name in ((namespace, "one"), (other_namespace, "two")):
            obj = kube.get_ccc(ns, name) or {}
            conditions = (obj.get("status") or {}).get("conditions") or []
            reasons[name] = conditions[0]["reason"] if conditions else ""
        done = sorted(reasons.values()) == ["ClientIdTaken", "ClientReady"]
        return reasons if done else None

    first = wait_for(outcome, timeout=60, what="one owner and one ClientIdTaken")
    owner = next(n for n, r in first.items() if r == "ClientReady")
    assert [c["ClientId"] for c in sim_api.list_clients(TENANT)].count("contested-id") == 1
    tenancy_operator.restart()
    wait_for(lambda: outcome() == first or None, timeout=30, what="the same owner")
    # Nothing happens at restart that would change hands: the loser stays refused.
    assert outcome() == first
    owner_ns = namespace if owner == "one" else other_namespace
    assert authenticates(sim, kube, owner_ns, f"{owner}-credentials")


# -------------------------------------------------------------------- namespaced tenants


def test_identity_tenant_with_its_own_admin_in_a_second_tenant(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str, other_namespace: str,
        control_plane: Any, sim: Any) -> None:
    member, secret = tenant_with_own_admin(sim, "team-tenant", "team-admin", "bb")
    kube.core.create_namespaced_secret(namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="team-admin"),
        string_data={"id": "team-admin", "secret": secret}))
    apply_object(control_plane, {
        "apiVersion": "identity.ccoperator.io/v1alpha1", "kind": "IdentityTenant",
        "metadata": {"name": "team", "namespace": namespace},
        "spec": {"tenantId": "team-tenant", "allowedRoleIds": [member],
                 "credentialsSecretRef": {"name": "team-admin", "clientIdKey": "id",
                                          "clientSecretKey": "secret"}}})
    wait_for(lambda: tenant_ready(kube, namespace, "team"), timeout=QUICK,
             what="IdentityTenant Ready")
    sim.admin.clear_calls()
    kube.create_ccc(namespace, "app", {**ref("team", "IdentityTenant"), "roleIds": [member]})
    obj = kube.wait_ready(namespace, "app")
    assert obj["status"]["tenantId"] == "team-tenant"
    creates = [c for c in sim.admin.calls() if c["Route"] == "clients.create"]
    assert [c["Caller"] for c in creates] == ["team-admin"]  # its own admin, not ours
    assert authenticates(sim, kube, namespace, "app-credentials")

    # From another namespace the same reference finds nothing.
    sim.admin.clear_calls()
    kube.create_ccc(other_namespace, "app", {**ref("team", "IdentityTenant"),
                                             "roleIds": [member]})
    kube.wait_reason(other_namespace, "app", "TenantRefNotFound")
    # Its administrator client is reserved like the operator's own.
    kube.create_ccc(namespace, "grab", {**ref("team", "IdentityTenant"), "roleIds": [member],
                                        "clientId": "team-admin"})
    kube.wait_reason(namespace, "grab", "ClientIdReserved")
    assert refused_cleanly(sim)


# ---------------------------------------------------------------------- tenant status


def tenant_ready(kube: Kube, namespace: str, name: str) -> bool:
    return tenant_reason(kube, "IdentityTenant", name, namespace) == "TenantReady"


def tenant_reason(kube: Kube, kind: str, name: str, namespace: str = "") -> str | None:
    try:
        if kind == "IdentityTenant":
            obj = kube.custom.get_namespaced_custom_object(
                "identity.ccoperator.io", "v1alpha1", namespace, "identitytenants", name)
        else:
            obj = kube.custom.get_cluster_custom_object(
                "identity.ccoperator.io", "v1alpha1", "clusteridentitytenants", name)
    except k8s.ApiException:
        return None
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    conditions = status.get("conditions") or []
    return str(conditions[0]["reason"]) if conditions else None


def test_tenant_status_says_what_is_wrong_and_follows_its_secret(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim: Any) -> None:
    creds = {"name": "tenant-admin"}
    cluster_tenant("no-secret", credentialsSecretRef=creds)
    cluster_tenant("no-tenant", tenantId="no-such-tenant")
    wait_for(lambda: tenant_reason(kube, "ClusterIdentityTenant", "e2e") == "TenantReady",
             timeout=QUICK, what="e2e Ready")
    wait_for(lambda: tenant_reason(kube, "ClusterIdentityTenant", "no-secret")
             == "CredentialsNotFound", timeout=QUICK, what="CredentialsNotFound")
    wait_for(lambda: tenant_reason(kube, "ClusterIdentityTenant", "no-tenant")
             == "TenantNotFound", timeout=QUICK, what="TenantNotFound")
    # The Secret appears with wrong credentials, then is fixed: no restart either time.
    kube.core.create_namespaced_secret(namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="tenant-admin"),
        string_data={"clientId": sim.admin_client_id, "clientSecret": "wrong"}))
    wait_for(lambda: tenant_reason(kube, "ClusterIdentityTenant", "no-secret")
             == "Unauthorized", timeout=QUICK, what="Unauthorized")
    fixed = base64.b64encode(sim.admin_client_secret.encode()).decode()
    kube.core.patch_namespaced_secret("tenant-admin", namespace,
                                      {"data": {"clientSecret": fixed}})
    wait_for(lambda: tenant_reason(kube, "ClusterIdentityTenant", "no-secret")
             == "TenantReady", timeout=QUICK, what="Ready after the Secret was fixed")
    kube.create_ccc(namespace, "app", {**ref("no-secret"), "roleIds": [MEMBER]})
    kube.wait_ready(namespace, "app")
    assert tenancy_operator.metric("ccoperator_tenants", kind="ClusterIdentityTenant",
                                   ready="True") >= 2


# ------------------------------------------------------------------------- admission

T = "identity.ccoperator.io/v1alpha1"
GOOD_TENANT: dict[str, Any] = {"tenantId": "t1", "allowedRoleIds": [MEMBER]}

INVALID_TENANTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("no-spec", "ClusterIdentityTenant", None, "spec"),
    ("no-tenant", "ClusterIdentityTenant", {"allowedRoleIds": [MEMBER]},
     "spec.tenantId: Required value"),
    ("bad-tenant", "ClusterIdentityTenant", {**GOOD_TENANT, "tenantId": "a/b"},
     "spec.tenantId"),
    ("no-roles", "ClusterIdentityTenant", {"tenantId": "t1"},
     "spec.allowedRoleIds: Required value"),
    ("empty-roles", "ClusterIdentityTenant", {**GOOD_TENANT, "allowedRoleIds": []},
     "spec.allowedRoleIds"),
    ("duplicate-roles", "ClusterIdentityTenant",
     {**GOOD_TENANT, "allowedRoleIds": [MEMBER, MEMBER]}, "Duplicate value"),
    ("bad-url", "ClusterIdentityTenant", {**GOOD_TENANT, "identityUrl": "ftp://x"},
     "spec.identityUrl must be an absolute http(s) URL"),
    ("relative-url", "ClusterIdentityTenant", {**GOOD_TENANT, "identityUrl": "/api"},
     "spec.identityUrl must be an absolute http(s) URL"),
    ("short-lifetime", "ClusterIdentityTenant", {**GOOD_TENANT, "maxSecretLifetime": "30m"},
     "spec.maxSecretLifetime must be at least 1h"),
    ("days-lifetime", "ClusterIdentityTenant", {**GOOD_TENANT, "maxSecretLifetime": "90d"},
     "spec.maxSecretLifetime"),
    ("bad-adoption", "ClusterIdentityTenant", {**GOOD_TENANT, "adoption": "Maybe"},
     'supported values: "Deny", "Allow"'),
    ("bad-regex", "ClusterIdentityTenant", {**GOOD_TENANT, "allowedClientIds": ["a(b"]},
     "spec.allowedClientIds must be valid regular expressions"),
    ("empty-client-ids", "ClusterIdentityTenant", {**GOOD_TENANT, "allowedClientIds": []},
     "spec.allowedClientIds"),
    ("selector-no-values", "ClusterIdentityTenant", {**GOOD_TENANT, "namespaceSelector": {
        "matchExpressions": [{"key": "team", "operator": "In"}]}}, "In and NotIn need values"),
    ("selector-bad-operator", "ClusterIdentityTenant", {**GOOD_TENANT, "namespaceSelector": {
        "matchExpressions": [{"key": "team", "operator": "Equals", "values": ["a"]}]}},
     "spec.namespaceSelector.matchExpressions[0].operator"),
    ("same-keys", "ClusterIdentityTenant", {**GOOD_TENANT, "credentialsSecretRef": {
        "name": "s", "clientIdKey": "k", "clientSecretKey": "k"}}, "must differ"),
    ("secret-no-name", "ClusterIdentityTenant", {**GOOD_TENANT, "credentialsSecretRef": {}},
     "spec.credentialsSecretRef.name: Required value"),
    ("namespaced-needs-credentials", "IdentityTenant", GOOD_TENANT,
     "spec.credentialsSecretRef: Required value"),
    ("namespaced-has-no-selector", "IdentityTenant", {
        **GOOD_TENANT, "credentialsSecretRef": {"name": "s"}, "namespaceSelector": {}},
     'unknown field "spec.namespaceSelector"'),
]


@pytest.mark.parametrize(("name", "kind", "spec", "expected"), INVALID_TENANTS,
                         ids=[c[0] for c in INVALID_TENANTS])
def test_invalid_tenant_object_is_rejected(control_plane: Any, crd: str, namespace: str,
                                           name: str, kind: str, spec: dict[str, Any] | None,
                                           expected: str) -> None:
    doc = {"apiVersion": T, "kind": kind, "metadata": {"name": f"bad-{name}"}, "spec": spec}
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-",
                                   input=json.dumps(doc), check=False)
    assert result.returncode != 0, f"{name} was admitted"
    assert expected in result.stderr, result.stderr


def test_tenant_id_is_immutable(control_plane: Any, crd: str,
                                cluster_tenant: Callable[..., str]) -> None:
    cluster_tenant("immutable", tenantId="t1")
    doc = cluster_tenant_object("immutable", {**GOOD_TENANT, "tenantId": "t2"})
    result = control_plane.kubectl("apply", "-f", "-", input=json.dumps(doc), check=False)
    assert result.returncode != 0 and "spec.tenantId is immutable" in result.stderr


def test_explain_documents_the_tenant_kinds(control_plane: Any, crd: str) -> None:
    out = control_plane.kubectl("explain", "cit.spec").stdout
    for field in ("tenantId", "identityUrl", "credentialsSecretRef", "namespaceSelector",
                  "allowedRoleIds", "maxSecretLifetime", "adoption", "allowedClientIds"):
        assert field in out
    out = control_plane.kubectl("explain", "it.spec").stdout
    assert "credentialsSecretRef" in out and "namespaceSelector" not in out


def test_deleting_a_namespace_with_its_tenant_cleans_up_its_clients(
        operator_factory: Any, kube: Kube, namespace: str, control_plane: Any,
        sim: Any) -> None:
    # The namespace controller deletes the IdentityTenant, its Secret and the client together;
    # the client's finalizer still deletes the remote client with the credentials the tenant
    # had, and the namespace goes away.
    member, secret = tenant_with_own_admin(sim, "doomed-tenant", "doomed-admin", "cc")
    doomed = f"{namespace[:50]}-gone"
    kube.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=doomed)))
    operator = operator_factory(namespaces=[doomed]).start()
    kube.core.create_namespaced_secret(doomed, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="admin"),
        string_data={"clientId": "doomed-admin",
                     "clientSecret": secret}))
    apply_object(control_plane, {
        "apiVersion": "identity.ccoperator.io/v1alpha1", "kind": "IdentityTenant",
        "metadata": {"name": "team", "namespace": doomed},
        "spec": {"tenantId": "doomed-tenant", "allowedRoleIds": [member],
                 "credentialsSecretRef": {"name": "admin"}}})
    kube.create_ccc(doomed, "app", {**ref("team", "IdentityTenant"), "roleIds": [member]})
    client_id = kube.wait_ready(doomed, "app")["status"]["clientId"]
    # The worst order, made certain: tenant object and Secret go before the client does.
    control_plane.kubectl("delete", "identitytenant", "team", "-n", doomed)
    kube.core.delete_namespaced_secret("admin", doomed)
    time.sleep(1)  # the operator has seen both go
    kube.core.delete_namespace(doomed)

    def namespace_gone() -> bool:
        try:
            kube.core.read_namespace(doomed)
        except k8s.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(namespace_gone, timeout=90, what="namespace deleted")
    deletes = [c for c in sim.admin.calls() if c["Route"] == "clients.delete"]
    assert [(c["ClientId"], c["Status"], c["Caller"]) for c in deletes] == [
        (client_id, 204, "doomed-admin")], deletes
    assert operator.proc is not None and operator.proc.poll() is None
