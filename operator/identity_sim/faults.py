"""Fault rules (`/_admin/faults`): which operator-facing calls get delayed, answered with an
error status, answered 207, or dropped after their change is committed."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .model import bad_input

ROUTES: Final = (
    "discovery",
    "token",
    "clients.create",
    "clients.get",
    "clients.list",
    "clients.update",
    "clients.delete",
    "secrets.list",
    "secrets.get",
    "secrets.add",
    "secrets.update",
    "secrets.delete",
    "roles.list",
)
_KEYS: Final = frozenset(
    {
        "Route",
        "Method",
        "TenantId",
        "Rate",
        "Times",
        "LatencySeconds",
        "Status",
        "RetryAfterSeconds",
        "Partial207",
        "DropResponse",
    }
)


@dataclass(slots=True)
class FaultRule:
    route: str = "*"
    method: str | None = None
    tenant_id: str | None = None
    rate: float = 1.0
    times: int | None = None
    latency: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    partial207: bool = False
    drop: bool = False
    id: int = 0
    hits: int = 0

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, route: str, method: str, tenant_id: str | None) -> bool:
        return (
            (self.route == "*" or self.route == route)
            and (self.method is None or self.method == method)
            and (self.tenant_id is None or self.tenant_id == tenant_id)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Route": self.route,
            "Method": self.method,
            "TenantId": self.tenant_id,
            "Rate": self.rate,
            "Times": self.times,
            "LatencySeconds": self.latency,
            "Status": self.status,
            "RetryAfterSeconds": self.retry_after,
            "Partial207": self.partial207,
            "DropResponse": self.drop,
            "Hits": self.hits,
        }


def _number(body: Mapping[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise bad_input(f"{key}: must be a non-negative number")
    return float(value)


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_input(f"{key}: must be true or false")
    return value


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_input(f"{key}: must be a string or null")
    return value


def parse_rule(body: object) -> FaultRule:
    """A rule from its JSON form; unknown keys are refused so that typos do not pass silently."""
    if not isinstance(body, Mapping):
        raise bad_input("body: expected a JSON object")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise bad_input(f"unknown fault field(s): {', '.join(unknown)}")
    route = body.get("Route", "*")
    if route != "*" and route not in ROUTES:
        raise bad_input(f"Route: '{route}' is not '*' or one of {', '.join(ROUTES)}")
    rate = _number(body, "Rate", 1.0)
    if rate is None or rate > 1.0:
        raise bad_input("Rate: must be between 0 and 1")
    times = body.get("Times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise bad_input("Times: must be a positive integer or null")
    status = body.get("Status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
    ):
        raise bad_input("Status: must be an HTTP status between 400 and 599, or null")
    partial = _flag(body, "Partial207")
    if partial and route not in ("clients.list", "*"):
        raise bad_input("Partial207: only for Route 'clients.list'")
    method = _text(body, "Method")
    return FaultRule(
        route=route,
        method=method.upper() if method else None,
        tenant_id=_text(body, "TenantId"),
        rate=rate,
        times=times,
        latency=_number(body, "LatencySeconds", 0.0) or 0.0,
        status=status,
        retry_after=_number(body, "RetryAfterSeconds", None),
        partial207=partial,
        drop=_flag(body, "DropResponse"),
    )


class FaultSet:
    """Rules in the order they were added; the first matching rule whose `Rate` roll hits is
    the one applied to a call (one rule per call)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rules: dict[int, FaultRule] = {}
        self.rng = rng or random.Random()
        self._next_id = 1

    def add(self, rule: FaultRule) -> int:
        rule.id = self._next_id
        self._next_id += 1
        self.rules[rule.id] = rule
        return rule.id

    def remove(self, rule_id: int) -> bool:
        return self.rules.pop(rule_id, None) is not None

    def clear(self) -> None:
        self.rules.clear()

    def select(self, route: str, method: str, tenant_id: str | None) -> FaultRule | None:
        for rule in self.rules.values():
            if rule.spent or not rule.matches(route, method, tenant_id):
                continue
            if rule.rate < 1.0 and self.rng.random() >= rule.rate:
                continue
            rule.hits += 1
            return rule
        return None
