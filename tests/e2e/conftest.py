"""Fixtures for end-to-end tests: CRD installed, the operator running as its own process
over the real control plane, talking to the identity simulator over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s

from tests.crd_fixtures import apply_object

from .support import Kube, OperatorProcess


@pytest.fixture(scope="session")
def kube(k8s_api: Any) -> Kube:
    return Kube(k8s_api)


class SimApi:
    """The identity API as a person with the administrator client would use it (sync), in
    either form. Bodies and answers are in the unversioned form's names (`ClientId`,
    `ClientSecret`) whichever form the tenant speaks, so one test reads the same on both."""

    def __init__(self, base_url: str, token_url: str, client_id: str, secret: str,
                 api_version: str = "unversioned") -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.v1 = api_version == "v1"
        self._creds = (client_id, secret)
        self._http = httpx.Client(timeout=10, trust_env=False)

    def _headers(self) -> dict[str, str]:
        response = self._http.post(self.token_url, data={
            "grant_type": "client_credentials",
            "client_id": self._creds[0],
            "client_secret": self._creds[1],
        })
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def _clients(self, tenant: str) -> str:
        if self.v1:
            return f"{self.base_url}/api/v1/Tenants/{tenant}/ClientCredentialClients/"
        return f"{self.base_url}/api/Tenants/{tenant}/ClientCredentialClient/"

    def _secrets(self, tenant: str, client_id: str) -> str:
        if self.v1:
            return f"{self._clients(tenant)}{client_id}/Secrets"
        return f"{self.base_url}/api/Tenants/{tenant}/Clients/{client_id}/Secret/"

    def _out(self, body: dict[str, Any]) -> dict[str, Any]:
        """A v1 client body in the unversioned names (the four fields both forms have)."""
        if not self.v1:
            return body
        return {"ClientId": body["Id"], "Name": body["Name"], "RoleIds": body["RoleIds"],
                "Enabled": body["Enabled"]}

    def _in(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.v1:
            return body
        out = {k: v for k, v in body.items() if k != "ClientId"}
        out["Id"] = body.get("ClientId")
        return out

    def raw_client(self, tenant: str, client_id: str) -> dict[str, Any] | None:
        """The client as the service answers it, in its own form (v1: Tags, lifetime)."""
        response = self._http.get(self._clients(tenant) + client_id, headers=self._headers())
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def get_client(self, tenant: str, client_id: str) -> dict[str, Any] | None:
        raw = self.raw_client(tenant, client_id)
        return self._out(raw) if raw is not None else None

    def create_client(self, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.post(self._clients(tenant), json=self._in(body),
                                   headers=self._headers())
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        if self.v1:
            return {**self._out(result["Client"]), "ClientSecret": result["Secret"],
                    "SecretId": result["Id"]}
        return result

    def put_client(self, tenant: str, client_id: str, body: dict[str, Any]) -> None:
        response = self._http.put(self._clients(tenant) + client_id, json=self._in(body),
                                  headers=self._headers())
        response.raise_for_status()

    def delete_client(self, tenant: str, client_id: str) -> None:
        response = self._http.delete(self._clients(tenant) + client_id, headers=self._headers())
        assert response.status_code in (204, 404), response.text

    def list_clients(self, tenant: str) -> list[dict[str, Any]]:
        response = self._http.get(self._clients(tenant), params={"count": 1000},
                                  headers=self._headers())
        response.raise_for_status()
        return [self._out(c) for c in response.json()]

    def secrets(self, tenant: str, client_id: str) -> list[dict[str, Any]]:
        response = self._http.get(self._secrets(tenant, client_id), headers=self._headers())
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def close(self) -> None:
        self._http.close()


@dataclass
class Form:
    """One form of the identity API, with the tenant object that speaks it: what the
    lifecycle tests run against, once per form."""

    api_version: str
    tenant_ref: str  # the ClusterIdentityTenant's name (tests/crd_fixtures.py)
    tenant_id: str
    member: str
    contributor: str
    api: SimApi

    def spec(self, **over: Any) -> dict[str, Any]:
        return {"tenantRef": {"name": self.tenant_ref}, "roleIds": [self.member], **over}


@pytest.fixture(params=["unversioned", "v1"])
def form(request: pytest.FixtureRequest, sim: Any, e2e_tenant: str,
         e2e_v1_tenant: str) -> Iterator[Form]:
    v1 = request.param == "v1"
    tenant = sim.v1_tenant_id if v1 else sim.admin_tenant_id
    roles = sim.v1_roles if v1 else sim.roles
    api = SimApi(sim.base_url, sim.token_url, sim.admin_client_id, sim.admin_client_secret,
                 request.param)
    yield Form(request.param, e2e_v1_tenant if v1 else e2e_tenant, tenant,
               roles["Tenant Member"], roles["Tenant Contributor"], api)
    api.close()


@pytest.fixture
def sim_api(sim: Any) -> Iterator[SimApi]:
    api = SimApi(sim.base_url, sim.token_url, sim.admin_client_id, sim.admin_client_secret)
    yield api
    api.close()


@pytest.fixture
def operator_factory(control_plane: Any, crd: str, e2e_tenant: str, e2e_v1_tenant: str,
                     sim: Any, namespace: str, request: pytest.FixtureRequest
                     ) -> Iterator[Any]:
    """Make (not start) an operator watching the test's namespace; closed after the test."""
    made: list[OperatorProcess] = []

    def make(*, kubeconfig: Path | None = None, namespaces: list[str] | None = None,
             **env: str) -> OperatorProcess:
        process = OperatorProcess(
            kubeconfig=kubeconfig or control_plane.kubeconfig,
            identity_url=sim.base_url,
            client_id=sim.admin_client_id,
            client_secret=sim.admin_client_secret,
            namespaces=namespaces or [namespace],
            env=env,
        )
        made.append(process)
        return process

    yield make
    failed = getattr(request.node, "rep_call", None)
    for process in made:
        if failed is not None and failed.failed:
            print(f"\n----- operator log ({process.log_path}) -----\n{process.tail(120)}")
        process.close()


@pytest.fixture
def operator(operator_factory: Any) -> OperatorProcess:
    """A running operator with a short resync, watching the test's namespace."""
    process: OperatorProcess = operator_factory(CCOPERATOR_RESYNC_PERIOD="4s",
                                                CCOPERATOR_ROTATION_GRACE_PERIOD="3s")
    return process.start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


@pytest.fixture
def other_namespace(kube: Kube, namespace: str) -> Iterator[str]:
    """A second namespace (deleted after the test): the other team of the tenancy tests."""
    name = f"{namespace[:50]}-b"
    kube.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    kube.core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def tenancy_operator(operator_factory: Any, namespace: str,
                     other_namespace: str) -> OperatorProcess:
    """An operator watching both namespaces, its own namespace the first, checking tenant
    objects every 2 s, with a 3 s rotation grace."""
    process: OperatorProcess = operator_factory(
        namespaces=[namespace, other_namespace], CCOPERATOR_NAMESPACE=namespace,
        CCOPERATOR_TENANT_CHECK_PERIOD="2s", CCOPERATOR_ROTATION_GRACE_PERIOD="3s")
    return process.start()


@pytest.fixture
def restricted_kubeconfig(control_plane: Any, namespace: str, service_account_token: Any,
                          token_kubeconfig: Any) -> Iterator[tuple[Path, Callable[..., None]]]:
    """A kubeconfig of a ServiceAccount with no rights, and `grant(name, rules, namespace)`
    that gives it some (cleaned up after the test)."""
    path = token_kubeconfig(service_account_token(namespace, "pruner"))
    made: list[tuple[str, str]] = []

    def grant(name: str, rules: list[dict[str, Any]], in_namespace: str | None = None) -> None:
        kind = "Role" if in_namespace else "ClusterRole"
        meta = {"name": f"{namespace}-{name}", **({"namespace": in_namespace}
                                                  if in_namespace else {})}
        apply_object(control_plane, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
                                     "metadata": meta, "rules": rules})
        apply_object(control_plane, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{kind}Binding",
            "metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                          "kind": kind, "name": meta["name"]},
            "subjects": [{"kind": "ServiceAccount", "name": "pruner",
                          "namespace": namespace}]})
        if not in_namespace:
            made.append((kind, meta["name"]))

    yield path, grant
    for kind, name in made:
        for what in (f"{kind}Binding", kind):
            control_plane.kubectl("delete", what.lower(), name, "--wait=false", check=False)
