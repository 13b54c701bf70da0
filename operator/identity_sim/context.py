"""The `Simulator` object every handler reaches through `request.app[SIM]`, and the few
HTTP helpers the route modules share."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from .auth import bearer_token, require_role
from .bootstrap import (
    DEFAULT_BOOTSTRAP,
    BootstrapDoc,
    BootstrapResult,
    apply_bootstrap,
    recorded_result,
)
from .calllog import CallLog
from .faults import FaultSet
from .model import READ_ROLES, WRITE_ROLES, ApiError, Tenant, Token, bad_input
from .store import Store

log = logging.getLogger("identity_sim")


@dataclass
class Simulator:
    """Everything one running simulator holds: state, fault rules, call log, bootstrap."""

    store: Store
    faults: FaultSet = field(default_factory=FaultSet)
    calls: CallLog = field(default_factory=CallLog)
    #: applied when the state is empty at start-up and by every reset
    bootstrap_doc: BootstrapDoc = DEFAULT_BOOTSTRAP
    #: fixes the administrator's secret when the bootstrap document leaves it null
    admin_secret: str | None = None
    last_bootstrap: BootstrapResult = field(default_factory=BootstrapResult)

    def start(self) -> BootstrapResult:
        """Bootstrap an empty state; a restored one keeps its clients (and the admin secret,
        when it is fixed, is made to work again)."""
        if self.store.empty:
            return self.bootstrap(self.bootstrap_doc)
        result = recorded_result(self.store, self.admin_secret)
        admin = self.store.clients.get(result.admin_client_id or "")
        if (
            self.admin_secret is not None
            and admin is not None
            and not self.store.accepts(admin, self.admin_secret)
        ):
            log.warning("restored state: the administrator's secret is reset to --admin-secret")
            self.store.put_client(
                self.store.tenant(admin.tenant_id),
                admin.client_id,
                admin.name,
                admin.role_ids,
                admin.enabled,
                self.admin_secret,
            )
        self.last_bootstrap = result
        return result

    def bootstrap(self, doc: BootstrapDoc) -> BootstrapResult:
        self.last_bootstrap = apply_bootstrap(self.store, doc, self.admin_secret)
        return self.last_bootstrap

    def reset(self, bootstrap: bool | BootstrapDoc = True) -> BootstrapResult:
        self.store.reset()
        self.faults.clear()
        self.calls.clear()
        if bootstrap is False:
            self.last_bootstrap = BootstrapResult()
            return self.last_bootstrap
        return self.bootstrap(self.bootstrap_doc if bootstrap is True else bootstrap)


SIM: Final = web.AppKey("identity_sim", Simulator)

# What a handler tells the call log about a request (aiohttp >= 3.13 wants typed keys for
# request storage; older versions take plain strings).
_REQUEST_KEY: Any = getattr(web, "RequestKey", None)


def _request_key(name: str, kind: type) -> Any:
    name = f"identity_sim.{name}"
    return _REQUEST_KEY(name, kind) if _REQUEST_KEY is not None else name


CALLER: Final = _request_key("caller", str)  # the ClientId behind the token
CLIENT_ID: Final = _request_key("client_id", str)  # the ClientId acted on, when not in the path
PARTIAL_207: Final = _request_key("partial207", bool)  # a fault rule asks for a 207


def authenticate(request: web.Request) -> Token:
    """The caller's token, or `Unauthorized` (401, no body)."""
    token = request.app[SIM].store.verify_token(bearer_token(request.headers.get("Authorization")))
    request[CALLER] = token.client_id
    return token


def tenant_for(request: web.Request, api_version: str, *, write: bool) -> Tenant:
    """The checks every API call starts with, in the documented order: 401 (token), 404
    (tenant, or a tenant of the other form), 403 (role)."""
    caller = authenticate(request)
    tenant = request.app[SIM].store.tenant(request.match_info["tenantId"], api_version)
    if write:
        require_role(caller.role_ids, tenant.write_role_ids, WRITE_ROLES)
    else:
        require_role(caller.role_ids, tenant.read_role_ids, READ_ROLES)
    return tenant


async def read_json(request: web.Request, *, empty: Any = None) -> Any:
    """The decoded JSON body; `empty` when there is no body at all."""
    raw = await request.read()
    if not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_input("body: not valid JSON") from None


_encode = json.JSONEncoder(separators=(",", ":")).encode


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return json_bytes_response(_encode(data).encode(), status, headers)


def json_bytes_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


def error_body(error: ApiError, operation_id: str | None = None) -> dict[str, str]:
    return {
        "OperationId": operation_id or str(uuid.uuid4()),
        "Error": error.error,
        "Reason": error.reason,
        "Resolution": error.resolution,
    }


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    if error.status == 401:
        return unauthorized_response()
    # The operation id also goes in an `Operation-Id` header: that is where the vendor's own
    # client (adh-sample-library) reads it from.
    operation_id = str(uuid.uuid4())
    return json_response(
        error_body(error, operation_id),
        error.status,
        {**(headers or {}), "Operation-Id": operation_id},
    )


def unauthorized_response() -> web.Response:
    return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
