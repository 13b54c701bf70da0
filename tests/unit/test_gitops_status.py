"""What GitOps tools read besides Ready: the Stalled condition (a table over every reason),
and the per-resource metrics the alerts need."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from ccoperator import metrics
from ccoperator import reconcile as rc
from ccoperator.api.clients import ClientSpec, ClientStatus, Condition, CurrentSecret
from ccoperator.api.conditions import (
    NEEDS_USER,
    STALLED,
    Reason,
    ready_condition,
    stalled_condition,
)
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=2)

# Every reason, and whether it needs the user (README "Status and conditions": what to do).
STALLS = {
    Reason.CLIENT_READY: False,
    Reason.CREATING: False,
    Reason.IDENTITY_UNAVAILABLE: False,
    Reason.KUBERNETES_ERROR: False,
    Reason.DELETE_FAILED: False,
    Reason.SECRET_CONFLICT: True,
    Reason.CLIENT_ID_TAKEN: True,
    Reason.OWNED_ELSEWHERE: True,
    Reason.CLIENT_NOT_FOUND: True,
    Reason.OBSERVED: False,
    Reason.CLIENT_ID_CHANGED: True,
    Reason.TENANT_NOT_FOUND: True,
    Reason.FORBIDDEN: True,
    Reason.INVALID_SPEC: True,
    Reason.UNAUTHORIZED: True,
    Reason.TENANT_REF_NOT_FOUND: True,
    Reason.TENANT_NOT_ALLOWED: True,
    Reason.POLICY_DENIED: True,
    Reason.CLIENT_ID_RESERVED: True,
}


def ready(reason: Reason, generation: int = 3) -> Condition:
    return ready_condition(ready=reason is Reason.CLIENT_READY, reason=reason,
                           message=f"about {reason.value}", generation=generation,
                           now=EARLIER, previous=None)


def test_every_reason_is_classified() -> None:
    assert set(STALLS) == set(Reason)


@pytest.mark.parametrize(("reason", "stalls"), sorted(STALLS.items()))
def test_stalled_follows_ready_reason(reason: Reason, stalls: bool) -> None:
    stalled = stalled_condition(ready(reason), now=NOW, previous=None)
    if not stalls:
        assert stalled is None  # absent, never False: nothing new to write
        return
    assert stalled is not None
    assert (stalled.type, stalled.status, stalled.reason, stalled.message) == (
        STALLED, "True", reason.value, f"about {reason.value}")
    assert stalled.observed_generation == 3
    assert stalled.last_transition_time == NOW  # newly stalled: now, not when Ready turned


def test_stalled_keeps_its_transition_time_while_the_reason_changes() -> None:
    before = stalled_condition(ready(Reason.SECRET_CONFLICT), now=EARLIER, previous=None)
    after = stalled_condition(ready(Reason.INVALID_SPEC), now=NOW, previous=before)
    assert after is not None and after.reason == "InvalidSpec"
    assert after.last_transition_time == EARLIER


def test_needs_user_holds_the_tenant_reasons_of_round_two() -> None:
    assert {"TenantRefNotFound", "TenantNotAllowed", "PolicyDenied", "ClientIdReserved",
            "CredentialsNotFound"} <= NEEDS_USER
    assert "IdentityUnavailable" not in NEEDS_USER


# --------------------------------------------------------------------------- metrics

def scrape(collector: metrics.ResourceCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def samples(text: str) -> dict[str, float]:
    return {series: float(value) for series, _, value in
            (line.rpartition(" ") for line in text.splitlines() if not line.startswith("#"))}


def status(reason: Reason, expires: datetime | None = None,
           issued: datetime | None = None) -> ClientStatus:
    current = CurrentSecret(id=1, expires_at=expires, issued_at=issued) if expires else None
    return ClientStatus(conditions=(ready(reason),), current_secret=current)


SPEC = {"tenantRef": {"name": "t1"}, "roleIds": ["r1"], "secret": {"expiresAfter": "90h",
                                                         "rotateBefore": "30h"}}


def ticking() -> metrics.ResourceCollector:
    """A collector whose clock moves past the rebuild age at every scrape."""
    now = [0.0]

    def clock() -> float:
        now[0] += metrics.ResourceCollector.REBUILD_AFTER_SECONDS
        return now[0]

    return metrics.ResourceCollector(clock=clock)


def test_scrapes_within_the_rebuild_age_reuse_one_snapshot() -> None:
    now = [100.0]
    c = metrics.ResourceCollector(clock=lambda: now[0])
    c.set("a", metrics.resource_state("ns", "a", status(Reason.CREATING), SPEC, None))
    assert 'reason="Creating"} 1.0' in scrape(c)
    c.set("b", metrics.resource_state("ns", "b", status(Reason.CREATING), SPEC, None))
    now[0] += 0.5
    assert 'reason="Creating"} 1.0' in scrape(c)  # the same snapshot, half a second old
    now[0] += 0.5
    assert 'reason="Creating"} 2.0' in scrape(c)  # rebuilt


def test_resource_counts_follow_reason_changes_and_deletion() -> None:
    c = ticking()
    c.set("a", metrics.resource_state("ns", "a", status(Reason.CREATING), SPEC, None))
    c.set("b", metrics.resource_state("ns", "b", status(Reason.CREATING), SPEC, None))
    text = scrape(c)
    assert 'ccoperator_resources{ready="False",reason="Creating"} 2.0' in text
    c.set("a", metrics.resource_state("ns", "a", status(Reason.CLIENT_READY), SPEC, None))
    c.set("b", metrics.resource_state("ns", "b", status(Reason.SECRET_CONFLICT), SPEC, None))
    text = scrape(c)
    assert 'reason="Creating"' not in text
    assert 'ccoperator_resources{ready="True",reason="ClientReady"} 1.0' in text
    assert 'ccoperator_resources{ready="False",reason="SecretConflict"} 1.0' in text
    c.forget("b")
    text = scrape(c)
    assert "SecretConflict" not in text
    assert 'ccoperator_resources{ready="True",reason="ClientReady"} 1.0' in text


def test_secret_expiry_and_rotation_deadline_per_resource() -> None:
    c = ticking()
    expires = NOW + timedelta(hours=90)
    c.set("a", metrics.resource_state("ns", "a", status(Reason.CLIENT_READY, expires, NOW),
                                      SPEC, None))
    c.set("n", metrics.resource_state("ns", "never", status(Reason.CLIENT_READY), SPEC, None))
    values = samples(scrape(c))
    assert values['ccoperator_secret_expiry_timestamp_seconds{name="a",namespace="ns"}'] == (
        expires.timestamp())
    assert values['ccoperator_secret_rotation_deadline_timestamp_seconds'
                  '{name="a",namespace="ns"}'] == (expires - timedelta(hours=30)).timestamp()
    text = scrape(c)
    assert 'name="never"' not in text  # no secret, no series
    c.forget("a")
    assert 'name="a"' not in scrape(c)


@pytest.mark.parametrize(("body", "issued", "lifetime"), [
    ({}, NOW, timedelta(days=90)),                                     # a third of default
    ({"expiresAfter": "90h"}, NOW, None),                              # a third of 90h
    ({"expiresAfter": "90h", "rotateBefore": "1h"}, NOW, None),        # explicit
    ({"expiresAfter": "0s"}, NOW - timedelta(days=3), None),           # now never: old one
    ({"expiresAfter": "0s"}, None, None),                              # no issue date
])
def test_rotation_deadline_is_the_rule_reconcile_uses(body: dict[str, str],
                                                      issued: datetime | None,
                                                      lifetime: timedelta | None) -> None:
    spec = ClientSpec.model_validate({"tenantRef": {"name": "t1"}, "roleIds": ["r1"],
                                      "secret": body})
    current = CurrentSecret(id=1, expires_at=NOW + timedelta(days=2), issued_at=issued)
    ctx = rc.Context(identity_url="http://127.0.0.1:9/", token_url="http://127.0.0.1:9/t",
                     default_lifetime=lifetime, grace_period=timedelta(hours=1),
                     resync=timedelta(minutes=10))
    o = rc.Observed(name="a", namespace="ns", uid="u", generation=1, spec=spec,
                    status=ClientStatus(current_secret=current), tenant_id="t1",
                    rotate_request=None,
                    remote_observed=False, remote=None, secret=None, now=NOW)
    assert metrics.rotation_deadline(spec, lifetime, current) == rc.rotation_time(o, ctx, current)


def test_unreadable_spec_gives_no_deadline() -> None:
    expires = NOW + timedelta(hours=1)
    state = metrics.resource_state("ns", "a", status(Reason.INVALID_SPEC, expires, NOW),
                                   {"roleIds": []}, None)
    assert state.rotate_at is None and state.expires_at == expires
    assert (state.ready, state.reason) == ("False", "InvalidSpec")


def test_resource_text_is_formatted_once_per_snapshot() -> None:
    now = [100.0]
    c = metrics.ResourceCollector(clock=lambda: now[0])
    c.set("a", metrics.resource_state("ns", "a", status(Reason.CREATING), SPEC, None))
    first = c.exposition()
    assert b'ccoperator_resources{ready="False",reason="Creating"} 1.0' in first
    assert c.exposition() is first  # same snapshot: the very same bytes, not formatted again
    c.set("b", metrics.resource_state("ns", "b", status(Reason.CREATING), SPEC, None))
    now[0] += metrics.ResourceCollector.REBUILD_AFTER_SECONDS
    assert b'reason="Creating"} 2.0' in c.exposition()


def test_the_endpoint_serves_fresh_counters_and_the_resource_families() -> None:
    metrics.RESOURCES.set("endpoint-test", metrics.resource_state(
        "ns", "endpoint-test", status(Reason.CREATING), SPEC, None))
    server = metrics.serve(0, "127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        before = REGISTRY.get_sample_value("ccoperator_workqueue_retries_total")
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain")
            text = answer.read().decode()
        assert f"ccoperator_workqueue_retries_total {before}" in text
        assert "ccoperator_resources{" in text
        metrics.QUEUE_RETRIES.inc()
        with urllib.request.urlopen(url, timeout=5) as answer:
            # Counters are read at each scrape, never from a cached answer.
            assert before is not None
            assert f"ccoperator_workqueue_retries_total {before + 1}" in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url.replace("/metrics", "/other"), timeout=5)  # noqa: S310
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
        metrics.RESOURCES.forget("endpoint-test")
