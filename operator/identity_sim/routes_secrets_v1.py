"""`api/v1/Tenants/{tenantId}/ClientCredentialClients/{clientId}/Secrets`: list, get, add,
update, delete (same route names as the unversioned form)."""

from __future__ import annotations

from aiohttp import web

from . import dto_v1
from .context import SIM, json_response, read_json
from .model import V1
from .routes_secrets import client_for

BASE = "/api/v1/Tenants/{tenantId}/ClientCredentialClients/{clientId}/Secrets"
COLLECTION = BASE + "{slash:/?}"
ITEM = BASE + "/{secretId}"


async def list_secrets(request: web.Request) -> web.Response:
    client = client_for(request, V1, write=False)
    secrets = [dto_v1.secret_dto(s) for s in client.secrets.values()]
    return json_response(secrets, headers={"Total-Count": str(len(secrets))})


async def get_secret(request: web.Request) -> web.Response:
    client = client_for(request, V1, write=False)
    secret = request.app[SIM].store.get_secret(client, request.match_info["secretId"])
    return json_response(dto_v1.secret_dto(secret))


async def add_secret(request: web.Request) -> web.Response:
    client = client_for(request, V1, write=True)
    fields = dto_v1.parse_secret_create(await read_json(request, empty={}))
    new, value = request.app[SIM].store.add_secret(client, fields)
    return json_response(dto_v1.secret_dto(new, value), 201)


async def update_secret(request: web.Request) -> web.Response:
    client = client_for(request, V1, write=True)
    fields = dto_v1.parse_secret_update(await read_json(request, empty={}))
    secret = request.app[SIM].store.update_secret(client, request.match_info["secretId"], fields)
    return json_response(dto_v1.secret_dto(secret))


async def delete_secret(request: web.Request) -> web.Response:
    client = client_for(request, V1, write=True)
    request.app[SIM].store.delete_secret(client, request.match_info["secretId"])
    return web.Response(status=204)


ROUTES = [
    ("GET", COLLECTION, list_secrets, "secrets.list"),
    ("POST", COLLECTION, add_secret, "secrets.add"),
    ("GET", ITEM, get_secret, "secrets.get"),
    ("PUT", ITEM, update_secret, "secrets.update"),
    ("DELETE", ITEM, delete_secret, "secrets.delete"),
]
