"""Fault rule parsing and selection."""

from __future__ import annotations

import random

import pytest
from identity_sim.faults import FaultSet, parse_rule
from identity_sim.model import ApiError


def test_defaults() -> None:
    rule = parse_rule({})
    assert (rule.route, rule.rate, rule.times, rule.status, rule.drop) == (
        "*",
        1.0,
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"Route": "clients.nope"},
        {"Rate": 1.5},
        {"Rate": -0.1},
        {"Times": 0},
        {"Times": 1.5},
        {"Status": 200},
        {"Status": 600},
        {"Status": "503"},
        {"LatencySeconds": -1},
        {"Route": "clients.get", "Partial207": True},
        {"DropResponse": "yes"},
        {"Stauts": 503},  # typo: refused, not silently ignored
        [],
    ],
)
def test_invalid_rules(body: object) -> None:
    with pytest.raises(ApiError) as err:
        parse_rule(body)
    assert err.value.status == 400


def test_route_method_and_tenant_matching() -> None:
    faults = FaultSet()
    faults.add(
        parse_rule({"Route": "clients.get", "TenantId": "t1", "Method": "get", "Status": 503})
    )
    assert faults.select("clients.get", "GET", "t2") is None
    assert faults.select("clients.list", "GET", "t1") is None
    rule = faults.select("clients.get", "GET", "t1")
    assert rule is not None and rule.status == 503 and rule.method == "GET"


def test_star_matches_every_route() -> None:
    faults = FaultSet()
    faults.add(parse_rule({"Route": "*", "LatencySeconds": 0.1}))
    assert faults.select("token", "POST", None) is not None
    assert faults.select("secrets.delete", "DELETE", "t") is not None


def test_times_then_spent() -> None:
    faults = FaultSet()
    rid = faults.add(parse_rule({"Route": "token", "Status": 503, "Times": 2}))
    assert faults.select("token", "POST", None) is not None
    assert faults.select("token", "POST", None) is not None
    assert faults.select("token", "POST", None) is None
    assert faults.rules[rid].to_json()["Hits"] == 2


def test_first_hit_wins_and_later_rules_apply_when_it_is_spent() -> None:
    faults = FaultSet()
    first = faults.add(parse_rule({"Route": "clients.get", "Status": 503, "Times": 1}))
    second = faults.add(parse_rule({"Route": "*", "Status": 500}))
    got = [faults.select("clients.get", "GET", "t") for _ in range(3)]
    assert [r.id if r else None for r in got] == [first, second, second]


def test_rate_is_a_probability() -> None:
    faults = FaultSet(random.Random(42))
    faults.add(parse_rule({"Route": "clients.get", "Status": 503, "Rate": 0.25}))
    hits = sum(faults.select("clients.get", "GET", "t") is not None for _ in range(4000))
    assert 800 < hits < 1200
    faults.clear()
    faults.add(parse_rule({"Route": "clients.get", "Status": 503, "Rate": 0.0}))
    assert all(faults.select("clients.get", "GET", "t") is None for _ in range(100))


def test_remove() -> None:
    faults = FaultSet()
    rid = faults.add(parse_rule({"Status": 503}))
    assert faults.remove(rid) and not faults.remove(rid)
    assert faults.select("token", "POST", None) is None
