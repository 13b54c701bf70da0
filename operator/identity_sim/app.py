"""The aiohttp application: routes, the wrapper that applies fault rules and writes the
call log, and `start_server` for in-process use."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import socket
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path

from aiohttp import web

from . import (
    admin,
    routes_clients,
    routes_clients_v1,
    routes_roles,
    routes_secrets,
    routes_secrets_v1,
    routes_token,
)
from .auth import Unauthorized
from .bootstrap import DEFAULT_BOOTSTRAP, TOKEN_PATH, BootstrapDoc, BootstrapResult
from .calllog import DROPPED
from .context import (
    CALLER,
    CLIENT_ID,
    PARTIAL_207,
    SIM,
    Simulator,
    error_response,
    log,
    unauthorized_response,
)
from .faults import FaultRule
from .model import ApiError
from .persistence import Database
from .store import DEFAULT_TOKEN_TTL, Store

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_FAULT_ERRORS = {
    408: "Request timeout",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def _fault_response(rule: FaultRule) -> web.Response:
    status = rule.status or 500
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    error = ApiError(
        status,
        _FAULT_ERRORS.get(status, phrase),
        f"Injected by simulator fault rule {rule.id}.",
        "Retry later." if status >= 500 or status in (408, 429) else "",
    )
    headers = None
    if rule.retry_after is not None:
        headers = {"Retry-After": str(math.ceil(rule.retry_after))}
    return error_response(error, headers)


def _loopback(request: web.Request) -> bool:
    remote = request.remote
    if not remote:
        return True  # unix socket or test transport
    try:
        return ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


def _instrument(sim: Simulator, route: str, handler: Handler) -> Handler:
    """Wrap an operator-facing handler: fault rules, error bodies, call log and counters.
    (A wrapper per route rather than an aiohttp middleware: two fewer layers per request.)"""

    async def call(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        tenant_id = info.get("tenantId")
        rule = sim.faults.select(route, request.method, tenant_id) if sim.faults.rules else None
        response: web.StreamResponse
        try:
            if rule is not None and rule.status is not None:
                response = _fault_response(rule)  # the call is not carried out
            else:
                if rule is not None and rule.partial207:
                    request[PARTIAL_207] = True
                response = await handler(request)
        except ApiError as exc:
            response = error_response(exc)
        except Unauthorized:
            response = unauthorized_response()
        except web.HTTPException as exc:  # from aiohttp itself, e.g. 413 for a huge body
            response = error_response(ApiError(exc.status, exc.reason, exc.text or ""))
        except Exception as exc:  # a bug of ours; still answer in the contract's shape
            log.exception("unhandled error in %s", route)
            response = error_response(ApiError(500, "Internal server error", repr(exc)))
        status: int | str = response.status
        if rule is not None:
            if rule.latency:
                await asyncio.sleep(rule.latency)
            if rule.drop and request.transport is not None:
                # The change is committed; the caller never gets to know: close the connection
                # and let aiohttp's write of `response` fail quietly.
                request.transport.close()
                status = DROPPED
        sim.calls.record(
            sim.store.clock.now(),
            request.method,
            route,
            request.path,
            tenant_id,
            request.get(CLIENT_ID) or info.get("clientId"),
            status,
            request.get(CALLER),
            None if rule is None else rule.id,
        )
        return response

    return call


def _admin_only(handler: Handler) -> Handler:
    async def call(request: web.Request) -> web.StreamResponse:
        if not _loopback(request):
            error = ApiError(403, "Forbidden", "The admin API answers loopback only.")
            return error_response(error)
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)

    return call


def _allowed_methods(request: web.Request) -> list[str]:
    """Methods of the routes whose path matches the request's (other than the catch-all)."""
    catch_all = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is catch_all:
            continue
        info = resource.get_info()
        pattern = info.get("pattern")
        if (pattern is not None and pattern.fullmatch(request.path)) or info.get(
            "path"
        ) == request.path:
            allowed.update(route.method for route in resource)
    return sorted(allowed)


def _unmatched(sim: Simulator) -> Handler:
    """The last route: 405 for a known path with another method, else 404; operator-side
    ones are logged as route `unmatched`."""

    async def call(request: web.Request) -> web.StreamResponse:
        allowed = _allowed_methods(request)
        if allowed:
            error = ApiError(405, "Method not allowed", f"{request.method} {request.path}")
            response = error_response(error, {"Allow": ", ".join(allowed)})
        else:
            response = error_response(ApiError(404, "Not found", f"No route {request.path}"))
        if not request.path.startswith(admin.PREFIX):
            sim.calls.record(
                sim.store.clock.now(),
                request.method,
                "unmatched",
                request.path,
                None,
                None,
                response.status,
                None,
                None,
            )
        return response

    return call


def build_app(sim: Simulator) -> web.Application:
    """The application serving `sim` (the operator-facing API plus `/_admin`)."""
    app = web.Application(client_max_size=1024**2)
    app[SIM] = sim
    modules = (
        routes_clients,
        routes_secrets,
        routes_clients_v1,
        routes_secrets_v1,
        routes_roles,
        routes_token,
    )
    for module in modules:
        for method, path, handler, name in module.ROUTES:
            app.router.add_route(method, path, _instrument(sim, name, handler))
    for method, path, admin_handler in admin.ROUTES:
        app.router.add_route(method, path, _admin_only(admin_handler))
    app.router.add_route("*", "/{tail:.*}", _unmatched(sim))

    async def _close_store(_app: web.Application) -> None:
        sim.store.close()

    app.on_cleanup.append(_close_store)
    return app


def make_simulator(
    *,
    state_path: str | Path | None = None,
    bootstrap: BootstrapDoc | None = None,
    admin_secret: str | None = None,
    token_ttl: int = DEFAULT_TOKEN_TTL,
) -> Simulator:
    """A simulator with in-memory state, or SQLite state at `state_path` (loaded if present)."""
    db = Database(state_path) if state_path is not None else None
    store = Store(db, token_ttl=token_ttl)
    return Simulator(store, bootstrap_doc=bootstrap or DEFAULT_BOOTSTRAP, admin_secret=admin_secret)


class RunningSimulator:
    """A simulator listening on a socket; `await stop()` when done (or `async with`)."""

    def __init__(self, sim: Simulator, runner: web.AppRunner, host: str, port: int) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self._runner = runner
        url_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
        if ":" in url_host:
            url_host = f"[{url_host}]"
        self.base_url = f"http://{url_host}:{port}"
        self.token_url = self.base_url + TOKEN_PATH

    @property
    def bootstrap(self) -> BootstrapResult:
        """The credentials of the latest bootstrap (or reset)."""
        return self.sim.last_bootstrap

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> RunningSimulator:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


async def start_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sim: Simulator | None = None,
    state_path: str | Path | None = None,
    bootstrap: BootstrapDoc | None = None,
    admin_secret: str | None = None,
    token_ttl: int = DEFAULT_TOKEN_TTL,
    access_log: bool = False,
) -> RunningSimulator:
    """Start serving (port 0: a free port) and bootstrap an empty state."""
    if sim is None:
        sim = make_simulator(
            state_path=state_path,
            bootstrap=bootstrap,
            admin_secret=admin_secret,
            token_ttl=token_ttl,
        )
    sim.start()
    app = build_app(sim)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=log if access_log else None, shutdown_timeout=1.0
    )
    await runner.setup()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        await runner.cleanup()
        raise
    site = web.SockSite(runner, sock)
    await site.start()
    return RunningSimulator(sim, runner, host, sock.getsockname()[1])
