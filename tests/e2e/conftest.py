"""Fixtures for end-to-end tests: CRD installed, the operator running as its own process
over the real control plane, talking to the identity simulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .support import Kube, OperatorProcess


@pytest.fixture(scope="session")
def kube(k8s_api: Any) -> Kube:
    return Kube(k8s_api)


class SimApi:
    """The identity API as a person with the administrator client would use it (sync)."""

    def __init__(self, base_url: str, token_url: str, client_id: str, secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
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
        return f"{self.base_url}/api/Tenants/{tenant}/ClientCredentialClient/"

    def get_client(self, tenant: str, client_id: str) -> dict[str, Any] | None:
        response = self._http.get(self._clients(tenant) + client_id, headers=self._headers())
        if response.status_code == 404:
            return None
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def create_client(self, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.post(self._clients(tenant), json=body, headers=self._headers())
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def put_client(self, tenant: str, client_id: str, body: dict[str, Any]) -> None:
        response = self._http.put(self._clients(tenant) + client_id, json=body,
                                  headers=self._headers())
        response.raise_for_status()

    def delete_client(self, tenant: str, client_id: str) -> None:
        response = self._http.delete(self._clients(tenant) + client_id, headers=self._headers())
        assert response.status_code in (204, 404), response.text

    def list_clients(self, tenant: str) -> list[dict[str, Any]]:
        response = self._http.get(self._clients(tenant), params={"count": 1000},
                                  headers=self._headers())
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def secrets(self, tenant: str, client_id: str) -> list[dict[str, Any]]:
        url = f"{self.base_url}/api/Tenants/{tenant}/Clients/{client_id}/Secret/"
        response = self._http.get(url, headers=self._headers())
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def close(self) -> None:
        self._http.close()


@pytest.fixture
def sim_api(sim: Any) -> Iterator[SimApi]:
    api = SimApi(sim.base_url, sim.token_url, sim.admin_client_id, sim.admin_client_secret)
    yield api
    api.close()


@pytest.fixture
def operator_factory(control_plane: Any, crd: str, e2e_tenant: str, sim: Any, namespace: str,
                     request: pytest.FixtureRequest) -> Iterator[Any]:
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
