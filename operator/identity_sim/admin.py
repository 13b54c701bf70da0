"""The admin API under `/_admin`: reset, bootstrap, state, faults, call log, tokens, clock.
Never called by the operator; no auth; answered to loopback peers only."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from .bootstrap import BootstrapDoc, parse_bootstrap, parse_bootstrap_text
from .context import SIM, json_response, read_json
from .faults import parse_rule
from .model import ApiError, bad_input, format_datetime

PREFIX = "/_admin"


def _base(request: web.Request) -> str:
    return str(request.url.origin())


async def health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


async def reset(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    body = await read_json(request, empty={})
    if not isinstance(body, Mapping):
        raise bad_input("body: expected a JSON object")
    choice = body.get("Bootstrap", True)
    bootstrap: bool | BootstrapDoc
    if isinstance(choice, bool):
        bootstrap = choice
    elif isinstance(choice, Mapping):
        bootstrap = parse_bootstrap(choice)
    else:
        raise bad_input("Bootstrap: true, false or a bootstrap document")
    return json_response(sim.reset(bootstrap).to_json(_base(request)))


async def bootstrap(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    doc = parse_bootstrap_text((await request.read()).decode(errors="replace"))
    return json_response(sim.bootstrap(doc).to_json(_base(request)))


async def state(request: web.Request) -> web.Response:
    return json_response(request.app[SIM].store.snapshot())


async def add_fault(request: web.Request) -> web.Response:
    rule = parse_rule(await read_json(request, empty={}))
    return json_response({"Id": request.app[SIM].faults.add(rule)}, 201)


async def list_faults(request: web.Request) -> web.Response:
    return json_response([r.to_json() for r in request.app[SIM].faults.rules.values()])


async def clear_faults(request: web.Request) -> web.Response:
    request.app[SIM].faults.clear()
    return web.Response(status=204)


async def remove_fault(request: web.Request) -> web.Response:
    raw = request.match_info["faultId"]
    if not (raw.isdigit() and request.app[SIM].faults.remove(int(raw))):
        raise ApiError(404, "Fault not found", f"No fault rule '{raw}'.", "List the rules.")
    return web.Response(status=204)


async def calls(request: web.Request) -> web.Response:
    raw = request.query.get("since", "0") or "0"
    if not raw.lstrip("-").isdigit():
        raise bad_input("since: must be an integer")
    return json_response([c.to_json() for c in request.app[SIM].calls.since(int(raw))])


async def clear_calls(request: web.Request) -> web.Response:
    request.app[SIM].calls.clear()
    return web.Response(status=204)


async def counters(request: web.Request) -> web.Response:
    return json_response(request.app[SIM].calls.counters)


async def expire_tokens(request: web.Request) -> web.Response:
    return json_response({"Expired": request.app[SIM].store.expire_tokens()})


def _clock_json(request: web.Request) -> dict[str, object]:
    clock = request.app[SIM].store.clock
    return {"Now": format_datetime(clock.now_dt()), "OffsetSeconds": clock.offset}


async def get_clock(request: web.Request) -> web.Response:
    return json_response(_clock_json(request))


async def advance_clock(request: web.Request) -> web.Response:
    body = await read_json(request, empty={})
    seconds = body.get("AdvanceSeconds") if isinstance(body, Mapping) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise bad_input("AdvanceSeconds: a non-negative number (the clock only moves forward)")
    request.app[SIM].store.advance_clock(float(seconds))
    return json_response(_clock_json(request))


ROUTES = [
    ("GET", PREFIX + "/health", health),
    ("POST", PREFIX + "/reset", reset),
    ("POST", PREFIX + "/bootstrap", bootstrap),
    ("GET", PREFIX + "/state", state),
    ("POST", PREFIX + "/faults", add_fault),
    ("GET", PREFIX + "/faults", list_faults),
    ("DELETE", PREFIX + "/faults", clear_faults),
    ("DELETE", PREFIX + "/faults/{faultId}", remove_fault),
    ("GET", PREFIX + "/calls", calls),
    ("DELETE", PREFIX + "/calls", clear_calls),
    ("GET", PREFIX + "/counters", counters),
    ("POST", PREFIX + "/tokens/expire", expire_tokens),
    ("GET", PREFIX + "/clock", get_clock),
    ("POST", PREFIX + "/clock", advance_clock),
]
