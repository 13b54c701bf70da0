"""The admission policies (deploy/components/admission-policies/) and the operator's pure rules
agree on every case of tests/data/policy_cases.yaml, on the real API server.

The namespaces, the tenant objects and the resources that update cases change are created for
this module (the stored resources first, while no tenant object of the table exists, as GitOps
may apply them); then each case is a server-side dry-run, a create or an update, whose answer
must be what `tests.policy_cases.at_apply` derives from the operator's verdict: admitted, or
refused with the operator's message word for word. A disagreement fails under the case's name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ccoperator.api.tenants import CLUSTER_KIND, NAMESPACED_KIND
from kubernetes import client as k8s

from tests.admission_support import (
    UNGRANTED,
    Verdict,
    ccc_body,
    dry_run_create,
    dry_run_patch,
    dry_run_replace_spec,
    installed_policies,
    wait_until,
)
from tests.crd_fixtures import apply_object
from tests.policy_cases import SCHEMA, Case, Names, Table, at_apply, load

TABLE = load()
GROUP, VERSION, PLURAL = "identity.ccoperator.io", "v1alpha1", "clientcredentialclients"
PATCHES: dict[str, dict[str, Any]] = {
    "label": {"metadata": {"labels": {"app.kubernetes.io/part-of": "billing"}}},
    "annotation": {"metadata": {"annotations": {"identity.ccoperator.io/rotate": "now"}}},
    "finalizer": {"metadata": {"finalizers": ["identity.ccoperator.io/cleanup"]}},
}


@dataclass
class Judged:
    table: Table
    names: Names
    custom: k8s.CustomObjectsApi


def stored_name(case: Case) -> str:
    return "u-" + case.name.split("/", 1)[1][:60].rstrip("-")


@pytest.fixture(scope="module")
def judged(control_plane: Any, crd: str, k8s_api: k8s.ApiClient) -> Iterator[Judged]:
    custom, core = k8s.CustomObjectsApi(k8s_api), k8s.CoreV1Api(k8s_api)
    names = Names(prefix=f"pc{uuid.uuid4().hex[:5]}-")
    made_ns: list[str] = []
    try:
        with installed_policies(control_plane, k8s_api):
            for logical, labels in TABLE.namespaces.items():
                core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(
                    name=names.ns(logical), labels=labels or None)))
                made_ns.append(names.ns(logical))
            # Stored before any tenant object of the table exists: admitted whatever they ask.
            for case in TABLE.cases:
                if case.is_update:
                    custom.create_namespaced_custom_object(
                        GROUP, VERSION, names.ns(case.ns), PLURAL,
                        ccc_body(stored_name(case), case.stored_spec(names)))
            for tenant in TABLE.tenants:
                apply_object(control_plane, tenant.body(names))
            _wait_for_every_tenant(custom, names)
            yield Judged(TABLE, names, custom)
    finally:
        for tenant in TABLE.tenants:
            if tenant.kind == CLUSTER_KIND:
                control_plane.kubectl("delete", "clusteridentitytenant",
                                      names.tenant(CLUSTER_KIND, tenant.name), "--wait=false",
                                      check=False)
        for name in made_ns:
            control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _wait_for_every_tenant(custom: k8s.CustomObjectsApi, names: Names) -> None:
    """The policies read tenant objects from an informer: wait until each one refuses a role
    it does not grant (or, for one that does not select the namespace, anything at all)."""
    somewhere = next(iter(TABLE.namespaces))
    for tenant in TABLE.tenants:
        namespace = names.ns(tenant.namespace or somewhere)
        spec = {"tenantRef": {"kind": tenant.kind, "name": names.tenant(tenant.kind,
                                                                        tenant.name)},
                "roleIds": [UNGRANTED]}
        wait_until(lambda ns=namespace, s=spec: not dry_run_create(
            custom, ns, "sentinel", s).admitted, f"the policies see {tenant.kind} {tenant.name}")


def ask(judged: Judged, case: Case) -> Verdict:
    """What the API server answers to the case, without storing anything."""
    namespace = judged.names.ns(case.ns)
    if not case.is_update:
        return dry_run_create(judged.custom, namespace, "c", case.client_spec(judged.names))
    name = stored_name(case)
    if case.change == "spec":
        return dry_run_replace_spec(judged.custom, namespace, name,
                                    case.client_spec(judged.names))
    return dry_run_patch(judged.custom, namespace, name, PATCHES[str(case.change)])


@pytest.mark.parametrize("case", TABLE.cases, ids=[c.name for c in TABLE.cases])
def test_admission_agrees_with_the_operator(judged: Judged, case: Case) -> None:
    want = at_apply(judged.table, case, judged.names)
    have = ask(judged, case)
    assert have.admitted is want.admitted, (
        f"{case.name}: the operator's rules say {want}, the API server {have}")
    if want.admitted:
        return
    if case.operator == SCHEMA:  # the CRD's own message
        assert have.policy is None, f"{case.name}: {have}"
        for words in case.says:
            assert words in str(have.message), f"{case.name}: {have}"
        return
    kind = "clusteridentitytenant" if case.tenant_kind == CLUSTER_KIND else "identitytenant"
    assert have.policy == f"ccoperator-{kind}", f"{case.name}: {have}"
    assert have.message == want.message, (
        f"{case.name}: the messages differ\n operator: {want.message}\n"
        f"admission: {have.message}")


def test_the_table_uses_both_kinds_on_the_server(judged: Judged) -> None:
    kinds = {c.tenant_kind for c in judged.table.cases if not at_apply(
        judged.table, c, judged.names).admitted}
    assert kinds == {CLUSTER_KIND, NAMESPACED_KIND}
