"""pytest plugin: the operator's CRDs installed on the session's control plane, and tenants.

Fixtures
    crd            session   the three CRDs (ClientCredentialClient and the tenant kinds)
    e2e_tenant     session   ClusterIdentityTenant "e2e": the simulator's admin tenant, every
                             namespace, every role of it, adoption allowed (what the tests
                             that are not about policy assume); its name
    e2e_v1_tenant  session   ClusterIdentityTenant "e2e-v1": the same for the simulator's
                             tenant in the v1 API form
    cluster_tenant function  make a ClusterIdentityTenant (deleted after the test):
                             cluster_tenant(name, tenantId=..., **spec) -> name
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ccoperator_envtest.cluster import wait_crd_established

CRD_DIR = Path(__file__).resolve().parents[1] / "crds"
CRD_NAMES = tuple(f"{plural}.identity.ccoperator.io" for plural in (
    "clientcredentialclients", "clusteridentitytenants", "identitytenants"))
CRD_NAME = CRD_NAMES[0]
E2E_TENANT = "e2e"
E2E_V1_TENANT = "e2e-v1"


@pytest.fixture(scope="session")
def crd(control_plane: Any) -> str:
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(CRD_DIR))
    for name in CRD_NAMES:
        wait_crd_established(control_plane, name)
    return CRD_NAME


def apply_object(control_plane: Any, obj: dict[str, Any]) -> None:
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(obj))


def cluster_tenant_object(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "identity.ccoperator.io/v1alpha1", "kind": "ClusterIdentityTenant",
            "metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="session")
def e2e_tenant(control_plane: Any, crd: str, sim_process: Any) -> str:
    apply_object(control_plane, cluster_tenant_object(E2E_TENANT, {
        "tenantId": sim_process.admin_tenant_id,
        "namespaceSelector": {},
        "allowedRoleIds": sorted(set(sim_process.roles.values())),
        "adoption": "Allow",
    }))
    return E2E_TENANT


@pytest.fixture(scope="session")
def e2e_v1_tenant(control_plane: Any, crd: str, sim_process: Any) -> str:
    """The same as e2e_tenant for the simulator's tenant in the v1 API form."""
    apply_object(control_plane, cluster_tenant_object(E2E_V1_TENANT, {
        "tenantId": sim_process.v1_tenant_id,
        "apiVersion": "v1",
        "namespaceSelector": {},
        "allowedRoleIds": sorted(set(sim_process.v1_roles.values())),
        "adoption": "Allow",
    }))
    return E2E_V1_TENANT


@pytest.fixture
def cluster_tenant(control_plane: Any, crd: str, sim_process: Any
                   ) -> Iterator[Callable[..., str]]:
    made: list[str] = []

    def make(name: str, **spec: Any) -> str:
        full = {"tenantId": sim_process.admin_tenant_id, "namespaceSelector": {},
                "allowedRoleIds": sorted(set(sim_process.roles.values())), **spec}
        apply_object(control_plane, cluster_tenant_object(name, full))
        made.append(name)
        return name

    yield make
    for name in made:
        control_plane.kubectl("delete", "clusteridentitytenant", name, "--wait=false",
                              check=False)
