"""OpenID discovery and the client-credentials token endpoint."""

from __future__ import annotations

from aiohttp import web

from .auth import basic_credentials
from .bootstrap import TOKEN_PATH
from .context import CALLER, CLIENT_ID, SIM, json_response

DISCOVERY_PATH = "/identity/.well-known/openid-configuration"


def _oauth_error(code: str) -> web.Response:
    return json_response({"error": code}, 400, {"Cache-Control": "no-store"})


async def discovery(request: web.Request) -> web.Response:
    base = str(request.url.origin())
    return json_response({"issuer": base + "/identity", "token_endpoint": base + TOKEN_PATH})


async def token(request: web.Request) -> web.Response:
    store = request.app[SIM].store
    form = await request.post()
    basic = basic_credentials(request.headers.get("Authorization"))
    if basic is not None:
        client_id, secret = basic
    else:
        raw_id, raw_secret = form.get("client_id"), form.get("client_secret")
        client_id = raw_id if isinstance(raw_id, str) else ""
        secret = raw_secret if isinstance(raw_secret, str) else ""
    request[CLIENT_ID] = client_id or None
    grant = form.get("grant_type")
    if not grant:
        return _oauth_error("invalid_request")
    if grant != "client_credentials":
        return _oauth_error("unsupported_grant_type")
    access_token = store.issue_token(client_id, secret) if client_id and secret else None
    if access_token is None:
        return _oauth_error("invalid_client")
    request[CALLER] = client_id
    return json_response(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": store.token_lifetime(client_id),
        },
        headers={"Cache-Control": "no-store"},
    )


ROUTES = [
    ("GET", DISCOVERY_PATH, discovery, "discovery"),
    ("POST", TOKEN_PATH, token, "token"),
]
