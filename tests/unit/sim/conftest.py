"""Fixtures of the simulator's own tests: an in-process server on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from identity_sim import RunningSimulator, start_server
from identity_sim.bootstrap import DEFAULT_ROLES

ROLES = DEFAULT_ROLES
TENANT = "demo-tenant"
CLIENTS = f"/api/Tenants/{TENANT}/ClientCredentialClient"


@pytest.fixture
async def server() -> AsyncIterator[RunningSimulator]:
    srv = await start_server(port=0)
    try:
        yield srv
    finally:
        await srv.stop()


async def get_token(base_url: str, client_id: str, secret: str) -> str:
    async with httpx.AsyncClient(trust_env=False) as raw:
        response = await raw.post(
            base_url + "/identity/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture
async def http(server: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    """Keep-alive client holding the administrator's bearer token."""
    creds = server.bootstrap
    assert creds.admin_client_id and creds.admin_client_secret
    token = await get_token(server.base_url, creds.admin_client_id, creds.admin_client_secret)
    async with httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
        timeout=10.0,
    ) as client:
        yield client


@pytest.fixture
async def admin(server: RunningSimulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url + "/_admin", trust_env=False, timeout=10.0
    ) as client:
        yield client


def new_client_body(client_id: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": "app", "RoleIds": [ROLES["Tenant Member"]]}
    if client_id is not None:
        body["ClientId"] = client_id
    body.update(extra)
    return body
