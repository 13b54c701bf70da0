"""Role enforcement on every call, through the subprocess simulator (`sim` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from identity_sim.testing import SimProcess

TENANT = "demo-tenant"
WRITE = {"Account Administrator"}
READ = {"Account Administrator", "Cluster Operator", "Cluster Support"}

# (route, method, path under the tenant, body, success status, roles allowed); in an order
# that leaves every path valid for the calls after it
CALLS = [
    ("clients.list", "GET", "ClientCredentialClient/", None, 200, READ),
    ("clients.get", "GET", "ClientCredentialClient/target", None, 200, READ),
    ("secrets.list", "GET", "Clients/target/Secret/", None, 200, READ),
    ("secrets.get", "GET", "Clients/target/Secret/1", None, 200, READ),
    (
        "clients.create",
        "POST",
        "ClientCredentialClient/",
        {"ClientId": "made", "Name": "m", "RoleIds": ["MEMBER"]},
        201,
        WRITE,
    ),
    (
        "clients.update",
        "PUT",
        "ClientCredentialClient/target",
        {"Name": "t2", "RoleIds": ["MEMBER"]},
        200,
        WRITE,
    ),
    ("secrets.add", "POST", "Clients/target/Secret/", {"Description": "x"}, 201, WRITE),
    ("secrets.update", "PUT", "Clients/target/Secret/2", {"Description": "y"}, 200, WRITE),
    ("secrets.delete", "DELETE", "Clients/target/Secret/2", None, 200, WRITE),
    ("clients.delete", "DELETE", "ClientCredentialClient/target", None, 204, WRITE),
]


@pytest.fixture
def admin_http(sim: SimProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{sim.base_url}/api/Tenants/{TENANT}/",
        headers={"Authorization": f"Bearer {sim.token()}"},
        trust_env=False,
    ) as client:
        yield client


def caller(sim: SimProcess, admin_http: httpx.Client, role_ids: list[str]) -> httpx.Client:
    """A client holding exactly `role_ids`, logged in."""
    created = admin_http.post(
        "ClientCredentialClient/",
        json={"ClientId": "caller", "Name": "caller", "RoleIds": role_ids},
    )
    assert created.status_code == 201, created.text
    token = sim.token("caller", created.json()["ClientSecret"])
    return httpx.Client(
        base_url=admin_http.base_url, headers={"Authorization": f"Bearer {token}"}, trust_env=False
    )


@pytest.mark.parametrize(
    "role", ["Account Administrator", "Cluster Operator", "Cluster Support", "Tenant Member"]
)
def test_role_table(sim: SimProcess, admin_http: httpx.Client, role: str) -> None:
    member = sim.roles["Tenant Member"]
    assert (
        admin_http.post(
            "ClientCredentialClient/", json={"ClientId": "target", "Name": "t", "RoleIds": [member]}
        ).status_code
        == 201
    )
    assert admin_http.post("Clients/target/Secret/", json={}).status_code == 201  # secret 2
    with caller(sim, admin_http, [sim.roles[role]]) as http:
        for route, method, path, body, success, allowed in CALLS:
            if body is not None and body.get("RoleIds") == ["MEMBER"]:
                body = {**body, "RoleIds": [member]}
            response = http.request(method, path, json=body)
            if role in allowed:
                assert response.status_code == success, (route, response.text)
            else:
                assert response.status_code == 403, (route, response.text)
                error = response.json()
                assert error["Error"] == "Forbidden"
                assert "Account Administrator" in error["Reason"]
    counters = sim.admin.counters()
    assert sum(counters["clients.get"].values()) == 1


def test_roles_are_per_tenant(sim: SimProcess, admin_http: httpx.Client) -> None:
    result = sim.admin.bootstrap(
        {"tenants": [{"id": "other"}], "admin": {"tenant": "other", "clientId": "other-admin"}}
    )
    other_admin_role = result["Tenants"]["other"]["Roles"]["Account Administrator"]
    # holds Account Administrator, but of the other tenant
    with caller(sim, admin_http, [other_admin_role]) as http:
        refused = http.get("ClientCredentialClient/caller")
        assert refused.status_code == 403
        allowed = http.get(f"{sim.base_url}/api/Tenants/other/ClientCredentialClient/other-admin")
        assert allowed.status_code == 200


def test_unknown_tenant_is_404_before_403(sim: SimProcess, admin_http: httpx.Client) -> None:
    with caller(sim, admin_http, [sim.roles["Tenant Member"]]) as http:
        response = http.get(f"{sim.base_url}/api/Tenants/nope/ClientCredentialClient/")
        assert response.status_code == 404 and response.json()["Error"] == "Tenant not found"
