"""The refusals of test_tenancy.py, now at `kubectl apply` (issue 20): with deploy/'s admission
policies installed, a ClientCredentialClient its tenant object does not allow is never stored,
and kubectl prints the operator's own message. What admission must never do is checked too: a
resource admitted before its tenant was tightened is still updated (status, labels, the rotate
annotation) and deleted (its finalizer runs, its remote client goes), and a tenant object
created after the resource lets it through once it exists.

The policies are installed for this module only and removed after it (tests/admission_support):
test_tenancy.py stores refused resources on purpose, to see the operator refuse them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ccoperator.api.clients import ClientSpec, TenantRef
from ccoperator.api.tenants import (
    CLUSTER_KIND,
    NAMESPACED_KIND,
    TenantObject,
    TenantSpec,
)
from ccoperator.reconcile import policy
from kubernetes import client as k8s

from tests.admission_support import (
    DENIED,
    UNGRANTED,
    Verdict,
    dry_run_create,
    installed_policies,
    wait_until,
)
from tests.crd_fixtures import apply_object

from .support import Kube, OperatorProcess
from .test_lifecycle import CONTRIBUTOR, MEMBER, TENANT
from .test_tenancy import ADMIN_ROLE, QUICK, message, ref


@pytest.fixture(scope="module", autouse=True)
def policies(control_plane: Any, crd: str, k8s_api: k8s.ApiClient
             ) -> Iterator[list[dict[str, Any]]]:
    with installed_policies(control_plane, k8s_api) as docs:
        yield docs


def kubectl_apply(control_plane: Any, namespace: str, name: str, spec: dict[str, Any],
                  labels: dict[str, str] | None = None) -> Verdict:
    """`kubectl apply` of a ClientCredentialClient, as a person or a GitOps tool sends it."""
    meta: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    doc = {"apiVersion": "identity.ccoperator.io/v1alpha1", "kind": "ClientCredentialClient",
           "metadata": meta, "spec": spec}
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc),
                                   check=False)
    if result.returncode == 0:
        return Verdict(True)
    found = DENIED.search(result.stderr.strip())
    assert found, result.stderr
    return Verdict(False, found.group(2), found.group(1))


def seen(custom: k8s.CustomObjectsApi, namespace: str, kind: str, name: str) -> None:
    """Wait until the policies read this tenant object (they do from an informer)."""
    spec = {"tenantRef": {"kind": kind, "name": name}, "roleIds": [UNGRANTED]}
    wait_until(lambda: not dry_run_create(custom, namespace, "sentinel", spec).admitted,
               f"the admission policies see {kind} {name}")


def operator_message(kube: Kube, namespace: str, kind: str, name: str,
                     tenant: dict[str, Any], spec: dict[str, Any]) -> str:
    """The message the operator's pure rules give for `spec` in `namespace` (its status
    message, as test_tenancy.py sees it)."""
    labels = kube.core.read_namespace(namespace).metadata.labels or {}
    ref_ = TenantRef(kind=kind, name=name)
    key = policy.tenant_key(ref_, namespace)
    found = TenantObject(key=key, uid="u", generation=1,
                         spec=TenantSpec.model_validate(tenant))
    resolved = policy.resolve(ref_, namespace, labels, found)
    if isinstance(resolved, policy.Denial):
        return resolved.message
    checked = policy.check(ClientSpec.model_validate(spec), resolved, key, None)
    assert isinstance(checked, policy.Denial), checked
    return checked.message


STRICT: dict[str, Any] = {"allowedRoleIds": [MEMBER], "maxSecretLifetime": "720h",
                          "allowedClientIds": [".*-demo"]}

# (case, tenant name, tenant spec over the defaults, client spec over roleIds [MEMBER], words)
REFUSALS: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
    ("admin-role", "strict", {"allowedRoleIds": [MEMBER, CONTRIBUTOR]},
     {"roleIds": [ADMIN_ROLE]}, "allowedRoleIds"),
    ("lifetime-over", "strict", STRICT, {"secret": {"expiresAfter": "721h"}},
     "expiresAfter 721h"),
    ("never-expires", "strict", STRICT, {"secret": {"expiresAfter": "0s"}},
     "0s (never expires)"),
    ("adopt-under-deny", "strict", STRICT, {"clientId": "x-demo", "adopt": True},
     "adoption: Deny"),
    ("client-id-outside", "strict", STRICT, {"clientId": "not-allowed"}, "allowedClientIds"),
    ("other-namespaces-client", "shared",
     {"adoption": "Deny", "allowedRoleIds": [MEMBER, CONTRIBUTOR, ADMIN_ROLE]},
     {"roleIds": [ADMIN_ROLE], "clientId": "billing-worker-demo", "adopt": True},
     "adoption: Deny"),
    ("namespace-not-selected", "team-a-only",
     {"allowedRoleIds": [MEMBER], "namespaceSelector": {"matchLabels": {"team": "a"}}}, {},
     "does not allow namespace"),
    ("no-selector", "closed", {"allowedRoleIds": [MEMBER], "namespaceSelector": None}, {},
     "does not allow namespace"),
]


@pytest.mark.parametrize(("case", "tenant", "tenant_spec", "spec", "words"), REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_refused_at_apply_with_the_operators_message(
        control_plane: Any, kube: Kube, namespace: str, cluster_tenant: Callable[..., str],
        case: str, tenant: str, tenant_spec: dict[str, Any], spec: dict[str, Any],
        words: str) -> None:
    cluster_tenant(tenant, **tenant_spec)
    seen(kube.custom, namespace, CLUSTER_KIND, tenant)
    full = {**ref(tenant), "roleIds": [MEMBER], **spec}
    verdict = kubectl_apply(control_plane, namespace, "refused", full)
    assert not verdict.admitted
    assert verdict.policy == "ccoperator-clusteridentitytenant"
    body = {"tenantId": TENANT, "namespaceSelector": {},
            "allowedRoleIds": [MEMBER], **tenant_spec}
    assert verdict.message == operator_message(
        kube, namespace, CLUSTER_KIND, tenant, {k: v for k, v in body.items() if v is not None},
        full)
    assert words in str(verdict.message)
    assert kube.get_ccc(namespace, "refused") is None  # never stored


def test_identity_tenant_refusal_at_apply(control_plane: Any, kube: Kube, namespace: str,
                                          other_namespace: str) -> None:
    tenant = {"tenantId": "team-tenant", "allowedRoleIds": [MEMBER],
              "credentialsSecretRef": {"name": "team-admin"}}
    apply_object(control_plane, {"apiVersion": "identity.ccoperator.io/v1alpha1",
                                 "kind": NAMESPACED_KIND,
                                 "metadata": {"name": "team", "namespace": namespace},
                                 "spec": tenant})
    seen(kube.custom, namespace, NAMESPACED_KIND, "team")
    spec = {**ref("team", NAMESPACED_KIND), "roleIds": [ADMIN_ROLE]}
    verdict = kubectl_apply(control_plane, namespace, "grab", spec)
    assert verdict.policy == "ccoperator-identitytenant"
    assert verdict.message == operator_message(kube, namespace, NAMESPACED_KIND, "team",
                                               tenant, spec)
    assert verdict.message is not None and verdict.message.startswith(
        f"IdentityTenant {namespace}/team refuses this client: roleIds {ADMIN_ROLE}")
    # The same reference from another namespace names no tenant object there: admitted, and
    # the operator reports TenantRefNotFound (test_tenancy.py).
    assert kubectl_apply(control_plane, other_namespace, "grab", spec).admitted


def test_admitted_before_a_tightening_is_still_updated_and_deleted(
        tenancy_operator: OperatorProcess, control_plane: Any, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str], sim: Any, sim_api: Any) -> None:
    cluster_tenant("strict", allowedRoleIds=[MEMBER, CONTRIBUTOR])
    seen(kube.custom, namespace, CLUSTER_KIND, "strict")
    spec = {**ref("strict"), "roleIds": [CONTRIBUTOR]}
    assert kubectl_apply(control_plane, namespace, "app", spec).admitted
    client_id = kube.wait_ready(namespace, "app")["status"]["clientId"]

    cluster_tenant("strict", allowedRoleIds=[MEMBER])  # contributor no longer granted
    # The operator's status write goes through: the status subresource is not matched.
    refused = message(kube.wait_reason(namespace, "app", "PolicyDenied", timeout=QUICK))
    assert CONTRIBUTOR in refused
    # The same spec, applied again with a change, or under another name: refused at the door
    # with exactly the words the operator wrote into the status.
    wait_until(lambda: not kubectl_apply(control_plane, namespace, "app2", spec).admitted,
               "the tightened tenant refuses at admission")
    assert kubectl_apply(control_plane, namespace, "app2", spec).message == refused
    renamed = kubectl_apply(control_plane, namespace, "app", {**spec, "name": "renamed"})
    assert (renamed.admitted, renamed.message) == (False, refused)
    # Updates that leave spec as it was pass: a label, the rotate annotation (and the
    # operator's own finalizer writes, below).
    assert kubectl_apply(control_plane, namespace, "app", spec, labels={"team": "a"}).admitted
    control_plane.kubectl("annotate", "-n", namespace, "ccc", "app",
                          "identity.ccoperator.io/rotate=after-tightening")
    assert kube.get_ccc(namespace, "app")["metadata"]["labels"] == {"team": "a"}  # type: ignore[index]

    sim.admin.clear_calls()
    control_plane.kubectl("delete", "-n", namespace, "ccc", "app", "--wait=false")
    kube.wait_gone(namespace, "app")  # the finalizer ran and was removed
    assert sim_api.get_client(TENANT, client_id) is None
    deletes = [c for c in sim.admin.calls() if c["Route"] == "clients.delete"]
    assert [(c["ClientId"], c["Status"]) for c in deletes] == [(client_id, 204)]


def test_tenant_object_created_after_the_resource_lets_it_through(
        tenancy_operator: OperatorProcess, control_plane: Any, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str]) -> None:
    spec = {**ref("later"), "roleIds": [MEMBER]}
    assert kubectl_apply(control_plane, namespace, "early", spec).admitted
    kube.wait_reason(namespace, "early", "TenantRefNotFound")
    cluster_tenant("later", allowedRoleIds=[MEMBER])
    kube.wait_ready(namespace, "early", timeout=QUICK)
    # Once the tenant object exists, it judges updates of the spec like any other.
    seen(kube.custom, namespace, CLUSTER_KIND, "later")
    refused = kubectl_apply(control_plane, namespace, "early", {**spec, "roleIds": [ADMIN_ROLE]})
    assert not refused.admitted and ADMIN_ROLE in str(refused.message)


def test_namespace_refused_at_apply_until_labelled(
        tenancy_operator: OperatorProcess, control_plane: Any, kube: Kube, namespace: str,
        cluster_tenant: Callable[..., str]) -> None:
    cluster_tenant("team-a-only", allowedRoleIds=[MEMBER],
                   namespaceSelector={"matchLabels": {"team": "a"}})
    seen(kube.custom, namespace, CLUSTER_KIND, "team-a-only")
    spec = {**ref("team-a-only"), "roleIds": [MEMBER]}
    verdict = kubectl_apply(control_plane, namespace, "app", spec)
    assert not verdict.admitted and f"does not allow namespace '{namespace}'" in str(
        verdict.message)
    kube.core.patch_namespace(namespace, {"metadata": {"labels": {"team": "a"}}})
    # The policies read namespaces from an informer too: admitted once they see the label.
    wait_until(lambda: kubectl_apply(control_plane, namespace, "app", spec).admitted,
               "the labelled namespace is admitted")
    kube.wait_ready(namespace, "app", timeout=QUICK)
