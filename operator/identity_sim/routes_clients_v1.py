"""`api/v1/Tenants/{tenantId}/ClientCredentialClients`: create, get, list, update, delete.

Route names are the unversioned form's (`clients.get`, ...), so fault rules, the call log and
counters read the same whichever form a tenant speaks."""

from __future__ import annotations

from aiohttp import web

from . import dto_v1
from .context import CLIENT_ID, PARTIAL_207, SIM, json_response, read_json, tenant_for
from .dto import parse_paging
from .model import V1
from .routes_clients import delete_handler, partial_body

BASE = "/api/v1/Tenants/{tenantId}/ClientCredentialClients"
COLLECTION = BASE + "{slash:/?}"
ITEM = BASE + "/{clientId}"


async def create_client(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    tenant = tenant_for(request, V1, write=True)
    body = dto_v1.parse_client_create(await read_json(request))
    request[CLIENT_ID] = body.client.client_id
    client, secret, value = store.create_client(tenant, body.client, body.secret)
    request[CLIENT_ID] = client.client_id
    location = f"/api/v1/Tenants/{tenant.id}/ClientCredentialClients/{client.client_id}"
    return json_response(dto_v1.created_dto(client, secret, value), 201, {"Location": location})


async def get_client(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    tenant = tenant_for(request, V1, write=False)
    client = store.get_client(tenant, request.match_info["clientId"])
    return json_response(dto_v1.client_dto(client))


async def list_clients(request: web.Request) -> web.Response:
    """`id` (repeatable) picks clients, and then `skip` and `count` are ignored, as the
    reference says; `Total-Count` is the number of clients matched before paging."""
    store = request.app[SIM].store
    tenant = tenant_for(request, V1, write=False)
    skip, count = parse_paging(request.query)  # validated even when ignored
    ids = dto_v1.requested_ids(request.query.getall("id", []))
    if ids:
        page = store.find_clients(tenant, ids)
        total = len(page)
    else:
        page = store.list_clients(tenant, skip, count)
        total = len(tenant.clients)
    headers = {"Total-Count": str(total)}
    if request.get(PARTIAL_207):
        body = partial_body(tenant.id, page, dto_v1.client_dto, lambda c: c.client_id)
        return json_response(body, 207, headers)
    return json_response([dto_v1.client_dto(c) for c in page], headers=headers)


async def update_client(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    tenant = tenant_for(request, V1, write=True)
    client_id = request.match_info["clientId"]
    fields = dto_v1.parse_client_update(await read_json(request, empty={}), client_id)
    return json_response(dto_v1.client_dto(store.update_client(tenant, client_id, fields)))


delete_client = delete_handler(V1)


ROUTES = [
    ("GET", ITEM, get_client, "clients.get"),
    ("PUT", ITEM, update_client, "clients.update"),
    ("DELETE", ITEM, delete_client, "clients.delete"),
    ("GET", COLLECTION, list_clients, "clients.list"),
    ("POST", COLLECTION, create_client, "clients.create"),
]
