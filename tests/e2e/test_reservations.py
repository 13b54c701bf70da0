"""Which client ids no resource may manage, end to end, and the moments around them.

A client id is reserved because acting on it could break the operator's own access or hand its
power to a namespace: the operator's own client, every ClusterIdentityTenant's, and an
IdentityTenant's only once its credentials obtained a token (whoever wrote them holds that
client's secret already). A namespace that merely writes someone else's client id into a
Secret reserves nothing, and is not allowed to turn the operator into a source of failed
logins under that client's name. The operators here resync every 10 minutes, so whatever
happens within seconds was caused by the change before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s

from tests.crd_fixtures import apply_object

from .support import Kube, OperatorProcess, wait_for
from .test_lifecycle import MEMBER, TENANT
from .test_tenancy import ADMIN_ROLE, QUICK, authenticates, identity_writes, ref, tenant_reason

CHECK_PERIOD = 30.0  # seconds: long, so that a burst of token requests would stand out


def identity_tenant(control_plane: Any, namespace: str, name: str, secret: str,
                    **spec: Any) -> None:
    apply_object(control_plane, {
        "apiVersion": "identity.ccoperator.io/v1alpha1", "kind": "IdentityTenant",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"tenantId": TENANT, "allowedRoleIds": [MEMBER, ADMIN_ROLE],
                 "credentialsSecretRef": {"name": secret}, **spec}})


def token_requests(sim: Any, client_id: str) -> int:
    return sum(1 for c in sim.admin.calls()
               if c["Route"] == "token" and c["ClientId"] == client_id)


def writes_on(sim: Any, client_id: str) -> list[dict[str, Any]]:
    return [c for c in identity_writes(sim) if c["ClientId"] == client_id]


def test_a_namespace_naming_another_namespaces_client_reserves_nothing(
        operator_factory: Any, kube: Kube, namespace: str, other_namespace: str,
        cluster_tenant: Callable[..., str], control_plane: Any, sim: Any,
        sim_api: Any) -> None:
    """The attack of issue 16: team-g writes the victim's client id and a guessed secret into
    a Secret and names it in an IdentityTenant. Before the fix the victim turned
    ClientIdReserved, could not rotate, and its deletion leaked its client."""
    operator: OperatorProcess = operator_factory(
        namespaces=[namespace, other_namespace], CCOPERATOR_NAMESPACE=namespace,
        CCOPERATOR_TENANT_CHECK_PERIOD=f"{CHECK_PERIOD:.0f}s",
        CCOPERATOR_ROTATION_GRACE_PERIOD="3s").start()
    cluster_tenant("shared", allowedRoleIds=[MEMBER])
    kube.create_ccc(namespace, "victim", {**ref("shared"), "roleIds": [MEMBER]})
    victim_id = kube.wait_ready(namespace, "victim")["status"]["clientId"]

    kube.core.create_namespaced_secret(other_namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="stolen-name"),
        string_data={"clientId": victim_id, "clientSecret": "a-guess"}))
    identity_tenant(control_plane, other_namespace, "grab", "stolen-name")
    wait_for(lambda: tenant_reason(kube, "IdentityTenant", "grab", other_namespace)
             == "Unauthorized", timeout=QUICK, what="the attacker's tenant Unauthorized")
    # The attacker's resources, each a pass that would ask for a token under that name.
    for i in range(3):
        kube.create_ccc(other_namespace, f"through-grab-{i}",
                        {**ref("grab", "IdentityTenant"), "roleIds": [MEMBER]})
    sim.admin.clear_calls()

    # The victim is re-evaluated (its rotation asked for): still its own, Ready, rotated.
    before = kube.get_ccc(namespace, "victim")["status"]["currentSecret"]["id"]  # type: ignore[index]
    kube.patch_ccc(namespace, "victim", {"metadata": {"annotations": {
        "identity.ccoperator.io/rotate": "after-the-attack"}}})
    rotated = wait_for(lambda: (lambda o: o if o and o["status"]["currentSecret"]["id"] != before
                                else None)(kube.ready(namespace, "victim")),
                       timeout=QUICK, what="the victim rotated")
    assert rotated["status"]["conditions"][0]["reason"] == "ClientReady"
    assert authenticates(sim, kube, namespace, "victim-credentials")
    # Refused credentials are asked again once per check period, not once per pass.
    time.sleep(15)
    assert token_requests(sim, victim_id) <= 1, sim.admin.calls()
    for i in range(3):
        assert kube.ready(other_namespace, f"through-grab-{i}") is None

    # Its deletion deletes its client.
    kube.delete_ccc(namespace, "victim")
    kube.wait_gone(namespace, "victim")
    assert sim_api.get_client(TENANT, victim_id) is None
    assert operator.metric("ccoperator_policy_denials_total", reason="ClientIdReserved") == 0


def test_a_platform_teams_admin_client_managed_here_and_used_by_its_tenant(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str, e2e_tenant: str,
        control_plane: Any, sim: Any, sim_api: Any) -> None:
    """A namespace manages an administrator client through a ClientCredentialClient and
    points an IdentityTenant at the Secret it gets. Once those credentials prove themselves
    the client id is reserved: the resource stops acting on it within seconds (it would
    otherwise rotate or delete the tenant's own credentials), the tenant keeps working, and
    when the tenant object goes the resource manages its client again."""
    kube.create_ccc(namespace, "team-admin", {**ref(e2e_tenant),
                                              "roleIds": [ADMIN_ROLE, MEMBER]})
    admin_id = kube.wait_ready(namespace, "team-admin")["status"]["clientId"]
    identity_tenant(control_plane, namespace, "team", "team-admin-credentials")
    wait_for(lambda: tenant_reason(kube, "IdentityTenant", "team", namespace) == "TenantReady",
             timeout=QUICK, what="the IdentityTenant Ready")
    obj = kube.wait_reason(namespace, "team-admin", "ClientIdReserved", timeout=QUICK)
    assert admin_id in obj["status"]["conditions"][0]["message"]
    sim.admin.clear_calls()

    # The tenant works: a client made through it, with its own administrator.
    kube.create_ccc(namespace, "app", {**ref("team", "IdentityTenant"), "roleIds": [MEMBER]})
    kube.wait_ready(namespace, "app")
    creates = [c for c in sim.admin.calls() if c["Route"] == "clients.create"]
    assert [c["Caller"] for c in creates] == [admin_id]
    # A rotation asked of the reserved resource is refused without touching the client.
    kube.patch_ccc(namespace, "team-admin", {"metadata": {"annotations": {
        "identity.ccoperator.io/rotate": "now"}}})
    time.sleep(3)
    assert writes_on(sim, admin_id) == []
    assert authenticates(sim, kube, namespace, "team-admin-credentials")

    # The tenant object goes: the reservation goes with it, within seconds.
    control_plane.kubectl("delete", "identitytenant", "team", "-n", namespace)
    kube.wait_ready(namespace, "team-admin", timeout=QUICK)


def test_deleting_a_resource_whose_client_is_reserved_says_so(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str, e2e_tenant: str,
        control_plane: Any, sim: Any, sim_api: Any) -> None:
    """The finalizer of a resource whose client the operator authenticates with deletes
    nothing, and says so: a warning event and the condition, never silently."""
    kube.create_ccc(namespace, "team-admin", {**ref(e2e_tenant),
                                              "roleIds": [ADMIN_ROLE, MEMBER]})
    admin_id = kube.wait_ready(namespace, "team-admin")["status"]["clientId"]
    identity_tenant(control_plane, namespace, "team", "team-admin-credentials")
    kube.wait_reason(namespace, "team-admin", "ClientIdReserved", timeout=QUICK)
    sim.admin.clear_calls()
    kube.delete_ccc(namespace, "team-admin")
    event = kube.wait_event(namespace, "DeletionSkipped")
    assert admin_id in event.message and "authenticates with it" in event.message
    kube.wait_gone(namespace, "team-admin")
    assert sim_api.get_client(TENANT, admin_id) is not None
    assert writes_on(sim, admin_id) == []


def test_a_secret_conflict_clears_when_the_other_secret_goes(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str, e2e_tenant: str) -> None:
    kube.core.create_namespaced_secret(namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="app-credentials"), string_data={"x": "y"}))
    kube.create_ccc(namespace, "app", {**ref(e2e_tenant), "roleIds": [MEMBER]})
    kube.wait_reason(namespace, "app", "SecretConflict")
    kube.core.delete_namespaced_secret("app-credentials", namespace)
    kube.wait_ready(namespace, "app", timeout=QUICK)  # the resync is 10 minutes away


def test_a_tenant_object_applied_with_its_clients_raises_no_false_alarm(
        tenancy_operator: OperatorProcess, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str]) -> None:
    kube.create_ccc(namespace, "early", {**ref("arrives-later"), "roleIds": [MEMBER]})
    time.sleep(2)  # the first pass runs before the tenant object exists
    cluster_tenant("arrives-later", allowedRoleIds=[MEMBER])
    obj = kube.wait_ready(namespace, "early", timeout=QUICK)
    assert obj["status"]["tenantId"] == TENANT
    assert [e for e in kube.events(namespace) if e.reason == "TenantRefNotFound"] == []
