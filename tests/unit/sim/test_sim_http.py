"""The wire: real HTTP on loopback against an in-process server."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx
import pytest
from identity_sim import RunningSimulator

from .conftest import CLIENTS, ROLES, TENANT, get_token, new_client_body


def assert_error_body(response: httpx.Response, status: int, error: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"OperationId", "Error", "Reason", "Resolution"}
    assert body["Error"] == error
    return body  # type: ignore[no-any-return]


async def test_client_lifecycle(http: httpx.AsyncClient) -> None:
    created = await http.post(CLIENTS + "/", json=new_client_body("app-1", SecretDescription="d"))
    assert created.status_code == 201
    body = created.json()
    assert body["ClientId"] == "app-1" and body["Enabled"] is True
    assert body["ClientSecret"] and body["SecretId"] == 1 and body["SecretDescription"] == "d"
    assert body["SecretExpirationDate"] is None
    assert created.headers["Location"] == f"{CLIENTS}/app-1"

    got = await http.get(f"{CLIENTS}/app-1")
    assert got.json() == {
        "RoleIds": [ROLES["Tenant Member"]],
        "ClientId": "app-1",
        "Name": "app",
        "Enabled": True,
    }

    conflict = await http.post(CLIENTS, json=new_client_body("app-1"))
    assert_error_body(conflict, 409, "Client id already in use")

    put = await http.put(
        f"{CLIENTS}/app-1",
        json={
            "ClientId": "app-1",
            "Name": "new",
            "RoleIds": [ROLES["Cluster Support"]],
            "Enabled": False,
        },
    )
    assert put.status_code == 200 and put.json()["Name"] == "new" and put.json()["Enabled"] is False

    mismatch = await http.put(
        f"{CLIENTS}/app-1",
        json={"ClientId": "x", "Name": "n", "RoleIds": [ROLES["Cluster Support"]]},
    )
    assert assert_error_body(mismatch, 400, "Missing or invalid inputs")["Reason"].startswith(
        "ClientId"
    )

    deleted = await http.delete(f"{CLIENTS}/app-1")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error_body(await http.get(f"{CLIENTS}/app-1"), 404, "Client not found")
    assert_error_body(await http.delete(f"{CLIENTS}/app-1"), 404, "Client not found")
    assert_error_body(
        await http.get(f"/api/Tenants/{TENANT}/Clients/app-1/Secret"), 404, "Client not found"
    )


async def test_generated_id_and_not_found_texts(http: httpx.AsyncClient) -> None:
    created = await http.post(CLIENTS, json=new_client_body())
    assert len(created.json()["ClientId"]) == 36
    assert_error_body(
        await http.get("/api/Tenants/nope/ClientCredentialClient/x"), 404, "Tenant not found"
    )
    assert_error_body(
        await http.post("/api/Tenants/nope/ClientCredentialClient", json=new_client_body()),
        404,
        "Tenant not found",
    )


@pytest.mark.parametrize(
    "body",
    [
        None,
        "not json",
        [],
        {"RoleIds": [ROLES["Tenant Member"]]},
        {"Name": "", "RoleIds": [ROLES["Tenant Member"]]},
        {"Name": "n", "RoleIds": []},
        {"Name": "n", "RoleIds": ["unknown-role"]},
        {"Name": "n", "RoleIds": [ROLES["Tenant Member"]], "SecretExpirationDate": "31/12/2030"},
    ],
)
async def test_create_validation(http: httpx.AsyncClient, body: object) -> None:
    if body is None:
        response = await http.post(CLIENTS)
    elif isinstance(body, str):
        response = await http.post(
            CLIENTS, content=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = await http.post(CLIENTS, json=body)
    assert_error_body(response, 400, "Missing or invalid inputs")


async def test_list_paging_and_both_path_forms(http: httpx.AsyncClient) -> None:
    for n in range(5):
        assert (await http.post(CLIENTS, json=new_client_body(f"c{n}"))).status_code == 201
    every = (await http.get(CLIENTS + "/")).json()
    assert [c["ClientId"] for c in every] == ["ccoperator-admin", "c0", "c1", "c2", "c3", "c4"]
    assert (await http.get(CLIENTS)).json() == every
    page = await http.get(CLIENTS + "/", params={"query": "ignored", "skip": 2, "count": 2})
    assert [c["ClientId"] for c in page.json()] == ["c1", "c2"]
    assert (await http.get(CLIENTS, params={"skip": 6})).json() == []
    for params in ({"skip": -1}, {"count": "x"}, {"count": -1}):
        assert_error_body(await http.get(CLIENTS, params=params), 400, "Missing or invalid inputs")


async def test_secrets_api(http: httpx.AsyncClient) -> None:
    created = (
        await http.post(
            CLIENTS, json=new_client_body("app", SecretExpirationDate="2030-01-02T03:04:05+01:00")
        )
    ).json()
    assert created["SecretExpirationDate"] == "2030-01-02T02:04:05Z"
    secrets = f"/api/Tenants/{TENANT}/Clients/app/Secret"
    listed = (await http.get(secrets + "/")).json()
    assert listed == [
        {
            "Id": 1,
            "Description": None,
            "Value": None,
            "Expiration": "2030-01-02T02:04:05Z",
            "Type": "SharedSecret",
        }
    ]
    assert (await http.get(secrets)).json() == listed

    added = await http.post(secrets + "/", json={"Description": "rotation", "Expiration": None})
    assert added.status_code == 201
    after = added.json()
    assert [s["Id"] for s in after] == [1, 2]
    assert after[0]["Value"] is None and after[1]["Value"] and after[1]["Description"] == "rotation"

    one = await http.get(f"{secrets}/2")
    assert one.json()["Value"] is None and one.json()["Description"] == "rotation"
    updated = await http.put(f"{secrets}/2", json={"Description": "renamed"})
    assert updated.status_code == 200 and updated.json()["Description"] == "renamed"
    bad = await http.put(f"{secrets}/2", json={"Expiration": "soon"})
    assert_error_body(bad, 400, "Missing or invalid inputs")

    remaining = await http.delete(f"{secrets}/1")
    assert remaining.status_code == 200 and [s["Id"] for s in remaining.json()] == [2]
    assert_error_body(await http.get(f"{secrets}/1"), 404, "Secret not found")
    assert_error_body(await http.delete(f"{secrets}/abc"), 404, "Secret not found")

    for _ in range(9):
        assert (await http.post(secrets, json={})).status_code == 201
    assert_error_body(await http.post(secrets, json={}), 400, "Missing or invalid inputs")

    # a new secret authenticates; deleting the client deletes its secrets
    value = after[1]["Value"]
    await get_token(str(http.base_url).rstrip("/"), "app", value)
    assert (await http.delete(f"{CLIENTS}/app")).status_code == 204
    refused = await http.post(
        "/identity/connect/token",
        data={"grant_type": "client_credentials", "client_id": "app", "client_secret": value},
    )
    assert refused.status_code == 400 and refused.json() == {"error": "invalid_client"}


async def test_discovery_and_token_endpoint(server: RunningSimulator) -> None:
    creds = server.bootstrap
    assert creds.admin_client_id and creds.admin_client_secret
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as raw:
        discovery = (await raw.get("/identity/.well-known/openid-configuration")).json()
        assert discovery["token_endpoint"] == server.token_url
        assert discovery["issuer"] == server.base_url + "/identity"

        form = await raw.post(
            server.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": creds.admin_client_id,
                "client_secret": creds.admin_client_secret,
            },
        )
        assert form.status_code == 200
        body = form.json()
        assert (
            body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
        )

        basic = base64.b64encode(
            f"{creds.admin_client_id}:{creds.admin_client_secret}".encode()
        ).decode()
        via_basic = await raw.post(
            server.token_url,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert via_basic.status_code == 200

        for data, error in (
            (
                {
                    "grant_type": "client_credentials",
                    "client_id": creds.admin_client_id,
                    "client_secret": "wrong",
                },
                "invalid_client",
            ),
            (
                {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
                "invalid_client",
            ),
            ({"grant_type": "client_credentials"}, "invalid_client"),
            (
                {
                    "grant_type": "password",
                    "client_id": creds.admin_client_id,
                    "client_secret": creds.admin_client_secret,
                },
                "unsupported_grant_type",
            ),
            (
                {"client_id": creds.admin_client_id, "client_secret": creds.admin_client_secret},
                "invalid_request",
            ),
        ):
            refused = await raw.post(server.token_url, data=data)
            assert (refused.status_code, refused.json()) == (400, {"error": error})


async def test_disabled_client_cannot_get_a_token(http: httpx.AsyncClient) -> None:
    value = (await http.post(CLIENTS, json=new_client_body("off", Enabled=False))).json()[
        "ClientSecret"
    ]
    refused = await http.post(
        "/identity/connect/token",
        data={"grant_type": "client_credentials", "client_id": "off", "client_secret": value},
    )
    assert refused.status_code == 400 and refused.json() == {"error": "invalid_client"}


async def test_401_has_no_body(server: RunningSimulator, admin: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as raw:
        for headers in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": "Basic abc"},
            {"Authorization": "Bearer"},
        ):
            response = await raw.get(f"{CLIENTS}/ccoperator-admin", headers=headers)
            assert response.status_code == 401 and response.content == b""
            assert response.headers["WWW-Authenticate"] == "Bearer"
        creds = server.bootstrap
        assert creds.admin_client_id and creds.admin_client_secret
        token = await get_token(server.base_url, creds.admin_client_id, creds.admin_client_secret)
        auth = {"Authorization": f"Bearer {token}"}
        assert (await raw.get(f"{CLIENTS}/ccoperator-admin", headers=auth)).status_code == 200
        assert (await admin.post("/tokens/expire")).json() == {"Expired": 1}
        assert (await raw.get(f"{CLIENTS}/ccoperator-admin", headers=auth)).status_code == 401
        token = await get_token(server.base_url, creds.admin_client_id, creds.admin_client_secret)
        auth = {"Authorization": f"Bearer {token}"}
        await admin.post("/clock", json={"AdvanceSeconds": 3600})
        expired = await raw.get(f"{CLIENTS}/ccoperator-admin", headers=auth)
        assert expired.status_code == 401 and expired.content == b""


async def test_unknown_routes_and_methods(http: httpx.AsyncClient) -> None:
    assert_error_body(await http.get("/api/Nothing"), 404, "Not found")
    wrong = await http.patch(f"{CLIENTS}/x")
    assert_error_body(wrong, 405, "Method not allowed")
    assert wrong.headers["Allow"] == "DELETE, GET, PUT"


# -- faults --------------------------------------------------------------------------------------


async def test_status_fault_does_not_apply_the_change(
    http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    rule = await admin.post(
        "/faults",
        json={"Route": "clients.create", "Status": 503, "RetryAfterSeconds": 1.2, "Times": 1},
    )
    assert rule.status_code == 201
    refused = await http.post(CLIENTS, json=new_client_body("x"))
    assert_error_body(refused, 503, "Service unavailable")
    assert refused.headers["Retry-After"] == "2"
    assert_error_body(await http.get(f"{CLIENTS}/x"), 404, "Client not found")
    assert (await http.post(CLIENTS, json=new_client_body("x"))).status_code == 201  # Times: 1
    await admin.post(
        "/faults", json={"Route": "clients.get", "Status": 429, "RetryAfterSeconds": 0}
    )
    throttled = await http.get(f"{CLIENTS}/x")
    assert_error_body(throttled, 429, "Too many requests")
    assert throttled.headers["Retry-After"] == "0"
    await admin.post("/faults", json={"Route": "clients.list", "Status": 401})
    unauthorized = await http.get(CLIENTS)
    assert unauthorized.status_code == 401 and unauthorized.content == b""
    faults = (await admin.get("/faults")).json()
    assert [f["Hits"] for f in faults] == [1, 1, 1]
    assert (await admin.delete(f"/faults/{faults[1]['Id']}")).status_code == 204
    assert (await http.get(f"{CLIENTS}/x")).status_code == 200
    assert (await admin.delete("/faults/999")).status_code == 404
    assert (await admin.delete("/faults")).status_code == 204
    assert (await admin.get("/faults")).json() == []


async def test_latency_fault_answers_late_but_commits_first(
    http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    await admin.post("/faults", json={"Route": "clients.create", "LatencySeconds": 1.0, "Times": 1})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await http.post(CLIENTS, json=new_client_body("slow"), timeout=0.3)
    assert time.monotonic() - started < 0.9
    assert (await http.get(f"{CLIENTS}/slow")).status_code == 200  # committed although timed out
    started = time.monotonic()
    await admin.post("/faults", json={"Route": "clients.get", "LatencySeconds": 0.3, "Times": 1})
    assert (await http.get(f"{CLIENTS}/slow")).status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_partial_207(http: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    for n in range(4):
        await http.post(CLIENTS, json=new_client_body(f"c{n}"))
    await admin.post("/faults", json={"Route": "clients.list", "Partial207": True, "Times": 2})
    partial = await http.get(CLIENTS, params={"count": 5})
    assert partial.status_code == 207
    body = partial.json()
    assert set(body) == {"OperationId", "Error", "Reason", "ChildErrors", "Data"}
    assert [c["ClientId"] for c in body["Data"]] == ["ccoperator-admin", "c1", "c3"]
    child = body["ChildErrors"][0]
    assert set(child) == {
        "OperationId",
        "Error",
        "Reason",
        "Resolution",
        "StatusCode",
        "ModelId",
        "TenantId",
    }
    assert [c["ModelId"]["ClientId"] for c in body["ChildErrors"]] == ["c0", "c2"]
    assert child["TenantId"] == TENANT and child["StatusCode"] == 500
    lone = (await http.get(CLIENTS, params={"skip": 4, "count": 1})).json()
    assert lone["Data"] == [] and lone["ChildErrors"][0]["ModelId"] == {"ClientId": "c3"}
    assert (await http.get(CLIENTS)).status_code == 200


@pytest.mark.parametrize("route", ["clients.create", "clients.delete", "secrets.add"])
async def test_drop_response_commits_then_closes(
    server: RunningSimulator, http: httpx.AsyncClient, admin: httpx.AsyncClient, route: str
) -> None:
    assert (await http.post(CLIENTS, json=new_client_body("existing"))).status_code == 201
    await admin.post("/faults", json={"Route": route, "DropResponse": True, "Times": 1})
    secrets = f"/api/Tenants/{TENANT}/Clients/existing/Secret"
    # a raw connection of its own: the caller sees the connection end with no answer at all
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=http.headers, trust_env=False
    ) as raw:
        with pytest.raises(httpx.RemoteProtocolError):
            if route == "clients.create":
                await raw.post(CLIENTS, json=new_client_body("dropped"))
            elif route == "clients.delete":
                await raw.delete(f"{CLIENTS}/existing")
            else:
                await raw.post(secrets, json={"Description": "lost"})
    if route == "clients.create":
        assert (await http.get(f"{CLIENTS}/dropped")).status_code == 200
    elif route == "clients.delete":
        assert (await http.get(f"{CLIENTS}/existing")).status_code == 404
    else:
        assert [s["Description"] for s in (await http.get(secrets)).json()] == [None, "lost"]
    counters = (await admin.get("/counters")).json()
    assert counters[route]["dropped"] == 1
    calls = (await admin.get("/calls")).json()
    dropped = [c for c in calls if c["Status"] == "dropped"]
    assert len(dropped) == 1 and dropped[0]["Route"] == route and dropped[0]["Fault"] == 1


async def test_rate_fault_hits_some_calls(
    http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    await admin.post("/faults", json={"Route": "clients.get", "Status": 503, "Rate": 0.5})
    statuses = [
        r.status_code
        for r in await asyncio.gather(*(http.get(f"{CLIENTS}/ccoperator-admin") for _ in range(60)))
    ]
    assert {200, 503} == set(statuses)


async def test_bad_fault_rules_are_400(admin: httpx.AsyncClient) -> None:
    for body in ({"Route": "nope"}, {"Status": "x"}, {"Extra": 1}):
        assert (await admin.post("/faults", json=body)).status_code == 400


# -- call log, counters, admin API ---------------------------------------------------------------


async def test_call_log_and_counters(http: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await admin.delete("/calls")
    await http.post(CLIENTS, json=new_client_body("logged"))
    await http.get(f"{CLIENTS}/logged")
    await http.get(f"{CLIENTS}/missing")
    calls = (await admin.get("/calls")).json()
    assert [(c["Route"], c["Status"], c["ClientId"]) for c in calls] == [
        ("clients.create", 201, "logged"),
        ("clients.get", 200, "logged"),
        ("clients.get", 404, "missing"),
    ]
    first = calls[0]
    assert set(first) == {
        "Seq",
        "Time",
        "Method",
        "Route",
        "Path",
        "TenantId",
        "ClientId",
        "Status",
        "Caller",
        "Fault",
    }
    assert (
        first["Caller"] == "ccoperator-admin"
        and first["TenantId"] == TENANT
        and first["Fault"] is None
    )
    later = (await admin.get("/calls", params={"since": first["Seq"]})).json()
    assert [c["Seq"] for c in later] == [c["Seq"] for c in calls[1:]]
    assert (await admin.get("/counters")).json() == {
        "clients.create": {"201": 1},
        "clients.get": {"200": 1, "404": 1},
    }
    await admin.delete("/calls")
    assert (await admin.get("/calls")).json() == [] and (await admin.get("/counters")).json() == {}


async def test_reset_state_and_bootstrap(
    server: RunningSimulator, http: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    assert (await admin.get("/health")).json() == {"ok": True}
    await http.post(CLIENTS, json=new_client_body("gone-after-reset"))
    await admin.post("/faults", json={"Status": 500})
    state = (await admin.get("/state")).json()
    clients = state["Tenants"][TENANT]["Clients"]
    assert [c["ClientId"] for c in clients] == ["ccoperator-admin", "gone-after-reset"]
    assert clients[1]["Secrets"][0].keys() == {"Id", "Description", "Expiration", "Type", "Expired"}

    reset = (await admin.post("/reset")).json()
    assert (
        reset["AdminClientId"] == "ccoperator-admin" and reset["Tenants"][TENANT]["Roles"] == ROLES
    )
    assert reset["BaseUrl"] == server.base_url and reset["TokenUrl"] == server.token_url
    assert (await admin.get("/faults")).json() == []
    state = (await admin.get("/state")).json()
    assert [c["ClientId"] for c in state["Tenants"][TENANT]["Clients"]] == ["ccoperator-admin"]

    empty = (await admin.post("/reset", json={"Bootstrap": False})).json()
    assert empty["AdminClientId"] is None and (await admin.get("/state")).json()["Tenants"] == {}

    document = """
tenants:
  - id: t1
    roles:
      Account Administrator: t1-aa
      Cluster Support: t1-cs
  - id: t2
admin:
  tenant: t1
  clientId: boss
  secret: boss-secret
clients:
  - tenant: t2
    clientId: support-reader
    roles: [Cluster Support]
"""
    result = (await admin.post("/bootstrap", content=document.encode())).json()
    assert result["AdminClientId"] == "boss" and result["AdminClientSecret"] == "boss-secret"
    assert result["Tenants"]["t1"]["Roles"]["Account Administrator"] == "t1-aa"
    assert set(result["Tenants"]["t2"]["Roles"]) == {
        "Account Administrator",
        "Cluster Operator",
        "Cluster Support",
    }
    reader = result["Clients"]["support-reader"]
    assert reader["TenantId"] == "t2" and reader["RoleIds"] == [
        result["Tenants"]["t2"]["Roles"]["Cluster Support"]
    ]
    token = await get_token(server.base_url, "boss", "boss-secret")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, trust_env=False
    ) as boss:
        # the administrator holds Account Administrator in every bootstrapped tenant
        assert (
            await boss.get("/api/Tenants/t2/ClientCredentialClient/support-reader")
        ).status_code == 200
    assert (await admin.post("/bootstrap", json={"tenants": []})).status_code == 400
    assert (await admin.post("/bootstrap", content=b"tenants: [")).status_code == 400


async def test_clock(admin: httpx.AsyncClient) -> None:
    before = (await admin.get("/clock")).json()
    assert before["OffsetSeconds"] == 0
    after = (await admin.post("/clock", json={"AdvanceSeconds": 90})).json()
    assert after["OffsetSeconds"] == 90
    assert (await admin.post("/clock", json={"AdvanceSeconds": -1})).status_code == 400


async def test_oversized_body_is_413_with_error_body(http: httpx.AsyncClient) -> None:
    response = await http.post(
        CLIENTS, content=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert_error_body(response, 413, "Request Entity Too Large")
