"""The simulator's v1 form on the wire (real HTTP on loopback, in-process server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from identity_sim import RunningSimulator, start_server
from identity_sim.bootstrap import DEFAULT_V1_ROLES, DEFAULT_V1_TENANT, parse_bootstrap
from identity_sim.model import ApiError

from .conftest import CLIENTS, get_token
from .test_sim_http import assert_error_body

V1 = f"/api/v1/Tenants/{DEFAULT_V1_TENANT}/ClientCredentialClients"
MEMBER = DEFAULT_V1_ROLES["Tenant Member"]
SUPPORT = DEFAULT_V1_ROLES["Cluster Support"]
LATER = "2031-01-02T03:04:05Z"


def body(client_id: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": client_id, "Name": "app", "RoleIds": [MEMBER]}
    out.update(extra)
    return out


async def create(http: httpx.AsyncClient, client_id: str, **extra: Any) -> dict[str, Any]:
    response = await http.post(V1, json=body(client_id, **extra))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_create_get_list_delete(http: httpx.AsyncClient) -> None:
    created = await create(http, "v1-a", Tags=["t"], SecretDescription="d")
    assert set(created) == {"Secret", "Id", "Description", "ExpirationDate", "Client"}
    assert (created["Id"], created["Description"], created["ExpirationDate"]) == (1, "d", None)
    client = {
        "Id": "v1-a",
        "Name": "app",
        "Enabled": True,
        "AccessTokenLifetime": 3600,
        "Tags": ["t"],
        "RoleIds": [MEMBER],
    }
    assert created["Client"] == client
    assert (await http.get(f"{V1}/v1-a")).json() == client
    listed = await http.get(V1, params={"count": 1000})
    assert listed.json() == [client] and listed.headers["Total-Count"] == "1"
    assert (await http.delete(f"{V1}/v1-a")).status_code == 204
    assert_error_body(await http.get(f"{V1}/v1-a"), 404, "Client not found")


async def test_a_generated_id_and_a_taken_one(http: httpx.AsyncClient) -> None:
    generated = await create(http, None)
    assert len(generated["Client"]["Id"]) == 36
    await create(http, "taken")
    assert_error_body(await http.post(V1, json=body("taken")), 409, "Client id already in use")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"RoleIds": [SUPPORT]}, "Member role"),
        ({"AccessTokenLifetime": 59}, "AccessTokenLifetime"),
        ({"AccessTokenLifetime": 3601}, "AccessTokenLifetime"),
        ({"AccessTokenLifetime": "60"}, "AccessTokenLifetime"),
        ({"Tags": "one"}, "Tags"),
        ({"Tags": ["ok", 2]}, "Tags"),
        ({"Name": " "}, "Name"),
        ({"Id": "a/b"}, "Id"),
    ],
)
async def test_create_validation(
    http: httpx.AsyncClient, extra: dict[str, Any], field: str
) -> None:
    response = await http.post(V1, json=body("bad", **extra))
    assert field in assert_error_body(response, 400, "Missing or invalid inputs")["Reason"]


async def test_put_leaves_absent_and_null_properties(http: httpx.AsyncClient) -> None:
    await create(http, "p", Tags=["a"], AccessTokenLifetime=600, Enabled=True)
    updated = await http.put(f"{V1}/p", json={"Name": "renamed", "Tags": None})
    assert updated.json() == {
        "Id": "p",
        "Name": "renamed",
        "Enabled": True,
        "AccessTokenLifetime": 600,
        "Tags": ["a"],
        "RoleIds": [MEMBER],
    }
    again = await http.put(f"{V1}/p", json={"Enabled": False, "RoleIds": [MEMBER, SUPPORT]})
    assert again.json()["Enabled"] is False and again.json()["RoleIds"] == [MEMBER, SUPPORT]
    dropped = await http.put(f"{V1}/p", json={"RoleIds": [SUPPORT]})
    assert "Member role" in assert_error_body(dropped, 400, "Missing or invalid inputs")["Reason"]
    other = await http.put(f"{V1}/p", json={"Id": "q"})
    assert "Id" in assert_error_body(other, 400, "Missing or invalid inputs")["Reason"]


@pytest.mark.parametrize(
    ("secret", "ok"),
    [
        ({"Expiration": LATER}, True),
        ({"Expiration": LATER, "Expires": True}, True),
        ({"Expires": False}, True),
        ({"Expiration": None, "Expires": False}, True),
        ({}, False),  # Expires defaults to true: an Expiration is needed
        ({"Expires": True}, False),
        ({"Expiration": LATER, "Expires": False}, False),
        ({"Expiration": LATER, "Expires": "yes"}, False),
    ],
)
async def test_add_secret_expires_rules(
    http: httpx.AsyncClient, secret: dict[str, Any], ok: bool
) -> None:
    await create(http, "s")
    response = await http.post(f"{V1}/s/Secrets", json={"Description": "x", **secret})
    if not ok:
        assert_error_body(response, 400, "Missing or invalid inputs")
        return
    assert response.status_code == 201
    added = response.json()
    assert set(added) == {"Id", "Description", "Expiration", "Expires", "Secret"}
    assert added["Expires"] is (added["Expiration"] is not None) and added["Secret"]


async def test_secret_update_and_delete(http: httpx.AsyncClient) -> None:
    await create(http, "u", SecretExpirationDate=LATER)
    item = f"{V1}/u/Secrets/1"
    kept = (await http.put(item, json={"Description": "new", "Expiration": None})).json()
    assert kept == {"Id": 1, "Description": "new", "Expiration": LATER, "Expires": True}
    never = (await http.put(item, json={"Expires": False})).json()
    assert (never["Expiration"], never["Expires"], never["Description"]) == (None, False, "new")
    refused = await http.put(item, json={"Expires": True})  # expires, but when?
    assert_error_body(refused, 400, "Missing or invalid inputs")
    listed = await http.get(f"{V1}/u/Secrets")
    assert listed.headers["Total-Count"] == "1" and "Secret" not in listed.json()[0]
    deleted = await http.delete(item)
    assert deleted.status_code == 204 and not deleted.content


async def test_ten_secrets_at_most(http: httpx.AsyncClient) -> None:
    await create(http, "ten")
    for _ in range(9):
        assert (await http.post(f"{V1}/ten/Secrets", json={"Expires": False})).status_code == 201
    eleventh = await http.post(f"{V1}/ten/Secrets", json={"Expires": False})
    assert "10" in assert_error_body(eleventh, 400, "Missing or invalid inputs")["Reason"]


async def test_id_filter_ignores_paging_and_counts_matches(http: httpx.AsyncClient) -> None:
    for name in ("f1", "f2", "f3"):
        await create(http, name)
    picked = await http.get(V1, params=[("id", "f3"), ("id", "f1"), ("id", " "), ("count", "1")])
    assert [c["Id"] for c in picked.json()] == ["f1", "f3"]  # list order, skip/count ignored
    assert picked.headers["Total-Count"] == "2"
    page = await http.get(V1, params={"skip": 1, "count": 1})
    assert [c["Id"] for c in page.json()] == ["f2"] and page.headers["Total-Count"] == "3"


async def test_roles(http: httpx.AsyncClient) -> None:
    roles = (await http.get(f"/api/v1/Tenants/{DEFAULT_V1_TENANT}/Roles")).json()
    assert {r["Name"]: r["Id"] for r in roles} == DEFAULT_V1_ROLES
    member = next(r for r in roles if r["Name"] == "Tenant Member")
    assert member["RoleScope"] == 1 and member["TenantId"] == DEFAULT_V1_TENANT
    assert set(member) == {
        "Id",
        "Name",
        "Description",
        "RoleScope",
        "TenantId",
        "CommunityId",
        "RoleTypeId",
    }
    unversioned = await http.get("/api/v1/Tenants/demo-tenant/Roles")
    assert_error_body(unversioned, 404, "Tenant not found")


async def test_each_tenant_answers_on_its_own_form(http: httpx.AsyncClient) -> None:
    assert_error_body(
        await http.get("/api/v1/Tenants/demo-tenant/ClientCredentialClients"),
        404,
        "Tenant not found",
    )
    wrong = await http.get(f"/api/Tenants/{DEFAULT_V1_TENANT}/ClientCredentialClient/")
    assert_error_body(wrong, 404, "Tenant not found")
    assert (await http.get(CLIENTS + "/")).status_code == 200


async def test_errors_carry_the_operation_id_header(http: httpx.AsyncClient) -> None:
    response = await http.get(f"{V1}/missing")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Operation-Id"] == response.json()["OperationId"]


async def test_the_call_log_names_routes_alike(
    server: RunningSimulator, http: httpx.AsyncClient
) -> None:
    await create(http, "log")
    await http.get(f"{V1}/log")
    routes = [c.route for c in server.sim.calls.entries if c.route != "token"]
    assert routes == ["clients.create", "clients.get"]


async def test_token_lifetime_follows_the_client(
    http: httpx.AsyncClient, server: RunningSimulator
) -> None:
    created = await create(http, "short", AccessTokenLifetime=120)
    async with httpx.AsyncClient(trust_env=False) as raw:
        answer = await raw.post(
            server.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": "short",
                "client_secret": created["Secret"],
            },
        )
    assert answer.json()["expires_in"] == 120


def test_bootstrap_api_version_and_client_limit() -> None:
    doc = parse_bootstrap({"tenants": [{"id": "t", "apiVersion": "v1", "maxClients": 2}]})
    assert (doc.tenants[0].api_version, doc.tenants[0].max_clients) == ("v1", 2)
    for bad in ({"apiVersion": "v2"}, {"maxClients": 0}, {"maxClients": True}):
        with pytest.raises(ApiError):
            parse_bootstrap({"tenants": [{"id": "t", **bad}]})


async def test_client_limit_and_persistence(tmp_path: Path) -> None:
    doc = parse_bootstrap(
        {
            "tenants": [
                {"id": "lim", "apiVersion": "v1", "maxClients": 2, "roles": {"Tenant Member": None}}
            ]
        }
    )
    state = tmp_path / "sim.db"
    srv = await start_server(state_path=state, bootstrap=doc)
    creds = srv.bootstrap
    assert creds.admin_client_id and creds.admin_client_secret
    assert creds.api_versions == {"lim": "v1"}
    member = creds.tenants["lim"]["Tenant Member"]  # generated: v1 tenants always have one
    token = await get_token(srv.base_url, creds.admin_client_id, creds.admin_client_secret)
    url = srv.base_url + "/api/v1/Tenants/lim/ClientCredentialClients"
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(trust_env=False, headers=headers) as raw:
        made = await raw.post(
            url,
            json={
                "Id": "one",
                "Name": "n",
                "RoleIds": [member],
                "Tags": ["x"],
                "AccessTokenLifetime": 300,
            },
        )
        assert made.status_code == 201
        # the administrator lives in this tenant too: 2 clients, the limit
        over = await raw.post(url, json={"Name": "n", "RoleIds": [member]})
        assert "limit" in assert_error_body(over, 400, "Missing or invalid inputs")["Reason"]
    await srv.stop()
    again = await start_server(state_path=state)
    try:
        tenant = again.sim.store.tenants["lim"]
        assert (tenant.api_version, tenant.max_clients) == ("v1", 2)
        one = again.sim.store.clients["one"]
        assert (one.tags, one.access_token_lifetime) == (["x"], 300)
    finally:
        await again.stop()
