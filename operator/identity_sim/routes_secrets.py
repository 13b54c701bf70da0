"""`api/Tenants/{tenantId}/Clients/{clientId}/Secret`: list, get, add, update, delete."""

from __future__ import annotations

from aiohttp import web

from .context import SIM, json_response, read_json, tenant_for
from .dto import parse_secret_body, secret_dto
from .model import UNVERSIONED, Client

BASE = "/api/Tenants/{tenantId}/Clients/{clientId}/Secret"
COLLECTION = BASE + "{slash:/?}"  # both forms, one resource
ITEM = BASE + "/{secretId}"


def client_for(request: web.Request, api_version: str, *, write: bool) -> Client:
    """The path's client after the tenant checks (`tenant_for`); 404 when absent."""
    tenant = tenant_for(request, api_version, write=write)
    return request.app[SIM].store.get_client(tenant, request.match_info["clientId"])


def _client(request: web.Request, *, write: bool) -> Client:
    return client_for(request, UNVERSIONED, write=write)


async def list_secrets(request: web.Request) -> web.Response:
    client = _client(request, write=False)
    return json_response([secret_dto(s) for s in client.secrets.values()])


async def get_secret(request: web.Request) -> web.Response:
    client = _client(request, write=False)
    secret = request.app[SIM].store.get_secret(client, request.match_info["secretId"])
    return json_response(secret_dto(secret))


async def add_secret(request: web.Request) -> web.Response:
    client = _client(request, write=True)
    fields = parse_secret_body(await read_json(request, empty={}))
    new, value = request.app[SIM].store.add_secret(client, fields)
    return json_response(
        [secret_dto(s, value if s is new else None) for s in client.secrets.values()], 201
    )


async def update_secret(request: web.Request) -> web.Response:
    client = _client(request, write=True)
    fields = parse_secret_body(await read_json(request, empty={}))
    secret = request.app[SIM].store.update_secret(client, request.match_info["secretId"], fields)
    return json_response(secret_dto(secret))


async def delete_secret(request: web.Request) -> web.Response:
    client = _client(request, write=True)
    request.app[SIM].store.delete_secret(client, request.match_info["secretId"])
    return json_response([secret_dto(s) for s in client.secrets.values()])


ROUTES = [
    ("GET", COLLECTION, list_secrets, "secrets.list"),
    ("POST", COLLECTION, add_secret, "secrets.add"),
    ("GET", ITEM, get_secret, "secrets.get"),
    ("PUT", ITEM, update_secret, "secrets.update"),
    ("DELETE", ITEM, delete_secret, "secrets.delete"),
]
