"""The vendor's own Python client (`adh-sample-library-preview`, pinned in the test extra)
against the simulator's v1 form, through the library's discovery, token flow, requests and
response checks (`BaseClient.request`, `BaseClient.checkResponse`, `SdsError`).

The calls are those of the vendor's client-credential setup procedure: list the tenant's
clients with `count=1000`, create one with `{AccessTokenLifetime, Id: null, Name, RoleIds,
SecretDescription, SecretExpirationDate}`, add a secret with `{Description, Expiration,
Expires: true}`, then delete. The library speaks plain `requests` to whatever URL it is
given, so the simulator's loopback http URL is used as is (no https needed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from adh_sample_library_preview import ADHClient, BaseClient, SdsError
from adh_sample_library_preview.Security.RoleScope import RoleScope

from .identity_helpers import CLUSTER_SUPPORT, TENANT_MEMBER, Sim, role_id


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # requests honours proxy variables; the simulator is on loopback and must be reached there
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield


def adh(sim: Sim, client_id: str, secret: str) -> ADHClient:
    """The library's client; its constructor already runs discovery and the token request."""
    assert sim.base_url.startswith("http://127.0.0.1:")
    return ADHClient("v1", sim.v1_tenant_id, sim.base_url, client_id, secret)


def call(
    base: BaseClient, method: str, url: str, what: str, body: Any = None, **params: Any
) -> Any:
    data = None if body is None else json.dumps(body)
    response = base.request(method, url, params=params or None, data=data)
    base.checkResponse(response, what)
    return response.json() if response.content else None


def test_the_vendor_setup_procedure(sim: Sim) -> None:
    tenant = sim.v1_tenant_id
    admin = adh(sim, sim.admin_client_id, sim.admin_client_secret)
    base = admin.baseClient
    clients_url = f"{base.uri_API}/Tenants/{tenant}/ClientCredentialClients"
    assert clients_url == f"{sim.base_url}/api/v1/Tenants/{tenant}/ClientCredentialClients"

    assert call(base, "get", clients_url, "Failed to list clients", count=1000) == []

    member = role_id(sim, tenant, TENANT_MEMBER)
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=90)
    created = call(
        base,
        "post",
        clients_url,
        "Failed to create client",
        {
            "AccessTokenLifetime": 3600,
            "Id": None,
            "Name": "vendor setup client",
            "RoleIds": [member],
            "SecretDescription": "created by the vendor library",
            "SecretExpirationDate": expires.isoformat(),
        },
    )
    client_id = created["Client"]["Id"]
    assert created["Secret"] and created["Id"] == 1
    assert created["Client"]["RoleIds"] == [member]
    assert created["Description"] == "created by the vendor library"

    listed = call(base, "get", clients_url, "Failed to list clients", count=1000)
    assert [c["Id"] for c in listed] == [client_id]

    # the new client authenticates through the library's own discovery and token flow
    app = adh(sim, client_id, created["Secret"])
    roles = app.Roles.getRoles()  # the Member role may list roles
    assert {r.Name for r in roles} == set(sim.v1_roles)
    assert all(r.RoleScope == RoleScope.Tenant and r.TenantId == tenant for r in roles)

    secrets_url = f"{clients_url}/{client_id}/Secrets"
    added = call(
        base,
        "post",
        secrets_url,
        "Failed to add secret",
        {"Description": "second", "Expiration": expires.isoformat(), "Expires": True},
    )
    assert added["Secret"] and added["Expires"] is True and added["Id"] == 2
    adh(sim, client_id, added["Secret"])  # the added secret authenticates too

    assert call(base, "delete", f"{secrets_url}/{added['Id']}", "Failed to delete secret") is None
    assert [s["Id"] for s in call(base, "get", secrets_url, "Failed to list secrets")] == [1]
    assert call(base, "delete", f"{clients_url}/{client_id}", "Failed to delete client") is None
    assert call(base, "get", clients_url, "Failed to list clients", count=1000) == []


def test_the_vendor_library_reads_the_error_answers(sim: Sim) -> None:
    tenant = sim.v1_tenant_id
    base = adh(sim, sim.admin_client_id, sim.admin_client_secret).baseClient
    clients_url = f"{base.uri_API}/Tenants/{tenant}/ClientCredentialClients"
    body = {"Id": None, "Name": "no member", "RoleIds": [role_id(sim, tenant, CLUSTER_SUPPORT)]}
    with pytest.raises(SdsError) as caught:
        call(base, "post", clients_url, "Failed to create client", body)
    error = caught.value
    assert error.StatusCode == 400
    # parsed from the JSON body (the library wants exactly `application/json`) and from the
    # `Operation-Id` header
    assert error.Error == "Missing or invalid inputs"
    assert error.Reason and "Member role" in error.Reason
    assert error.Resolution and error.OperationId

    with pytest.raises(SdsError) as missing:
        call(base, "get", f"{clients_url}/no-such-client", "Failed to get client")
    assert missing.value.StatusCode == 404 and missing.value.Error == "Client not found"

    with pytest.raises(SdsError) as refused:
        ADHClient("v1", tenant, sim.base_url, sim.admin_client_id, "a-wrong-secret")
    assert "invalid_client" in str(refused.value)
