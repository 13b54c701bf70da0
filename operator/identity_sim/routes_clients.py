"""`api/Tenants/{tenantId}/ClientCredentialClient`: create, get, list, update, delete."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .context import (
    CLIENT_ID,
    PARTIAL_207,
    SIM,
    json_bytes_response,
    json_response,
    read_json,
    tenant_for,
)
from .dto import client_dto, parse_client_create, parse_client_update, parse_paging
from .model import UNVERSIONED, Client, format_datetime

BASE = "/api/Tenants/{tenantId}/ClientCredentialClient"
COLLECTION = BASE + "{slash:/?}"  # both forms, one resource (the router tries fewer patterns)
ITEM = BASE + "/{clientId}"


async def create_client(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    tenant = tenant_for(request, UNVERSIONED, write=True)
    body = parse_client_create(await read_json(request))
    request[CLIENT_ID] = body.client.client_id
    client, secret, value = store.create_client(tenant, body.client, body.secret)
    request[CLIENT_ID] = client.client_id
    answer = client_dto(client)
    answer.update(
        ClientSecret=value,
        SecretId=secret.id,
        SecretDescription=secret.description,
        SecretExpirationDate=format_datetime(secret.expiration),
    )
    location = f"/api/Tenants/{tenant.id}/ClientCredentialClient/{client.client_id}"
    return json_response(answer, 201, {"Location": location})


async def get_client(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    tenant = tenant_for(request, UNVERSIONED, write=False)
    client = store.get_client(tenant, request.match_info["clientId"])
    if client.json is None:
        client.json = json.dumps(client_dto(client), separators=(",", ":")).encode()
    return json_bytes_response(client.json)


def partial_body(
    tenant_id: str,
    page: list[Client],
    render: Callable[[Client], dict[str, Any]] = client_dto,
    model_id: Callable[[Client], Any] = lambda c: {"ClientId": c.client_id},
) -> dict[str, Any]:
    """A 207 body: the clients at odd positions of the page (or a lone one) were 'unreadable'."""
    failed = page[1::2] if len(page) > 1 else page
    read = page[0::2] if len(page) > 1 else []
    return {
        "OperationId": str(uuid.uuid4()),
        "Error": "Partial success",
        "Reason": f"{len(failed)} of {len(page)} clients could not be read",
        "ChildErrors": [
            {
                "OperationId": str(uuid.uuid4()),
                "Error": "Internal server error",
                "Reason": "The client could not be read.",
                "Resolution": "Retry the call.",
                "StatusCode": 500,
                "ModelId": model_id(c),
                "TenantId": tenant_id,
            }
            for c in failed
        ],
        "Data": [render(c) for c in read],
    }


async def list_clients(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    tenant = tenant_for(request, UNVERSIONED, write=False)
    skip, count = parse_paging(request.query)  # `query` is accepted and ignored
    page = store.list_clients(tenant, skip, count)
    if request.get(PARTIAL_207):
        return json_response(partial_body(tenant.id, page), 207)
    return json_response([client_dto(c) for c in page])


async def update_client(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    tenant = tenant_for(request, UNVERSIONED, write=True)
    client_id = request.match_info["clientId"]
    fields = parse_client_update(await read_json(request), client_id)
    return json_response(client_dto(store.update_client(tenant, client_id, fields)))


def delete_handler(api_version: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """DELETE of a client, the same in both forms: 204, the client's secrets go with it."""

    async def delete_client(request: web.Request) -> web.Response:
        store = request.app[SIM].store
        tenant = tenant_for(request, api_version, write=True)
        store.delete_client(tenant, request.match_info["clientId"])
        return web.Response(status=204)

    return delete_client


delete_client = delete_handler(UNVERSIONED)


# hottest first: the router tries resources in registration order
ROUTES = [
    ("GET", ITEM, get_client, "clients.get"),
    ("PUT", ITEM, update_client, "clients.update"),
    ("DELETE", ITEM, delete_client, "clients.delete"),
    ("GET", COLLECTION, list_clients, "clients.list"),
    ("POST", COLLECTION, create_client, "clients.create"),
]
