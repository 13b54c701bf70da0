"""Prometheus metrics: identity calls, Secret reads, reconcile outcomes, policy, tenants."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

IDENTITY_CALLS = Counter(
    "ccoperator_identity_calls_total",
    "Identity API calls, by method, route and HTTP status (0 = no answer).",
    ["method", "route", "status"],
)
IDENTITY_LATENCY = Histogram(
    "ccoperator_identity_call_seconds",
    "Identity API call latency.",
    ["method", "route"],
)
RECONCILES = Counter(
    "ccoperator_reconciles_total",
    "Reconcile passes, by cause and result.",
    ["cause", "result"],
)

SECRET_READS = Counter(
    "ccoperator_secret_reads_total",
    "Reads of managed Secrets by reconcile passes, by source: the watch's copy (resyncs and "
    "restarts) or a GET from the API server (changes, and when the copy may be stale).",
    ["source"],
)


POLICY_DENIALS = Counter(
    "ccoperator_policy_denials_total",
    "Passes refused before any identity call (tenant ref, namespace, policy, ownership), by "
    "reason.",
    ["reason"],
)
TENANTS = Gauge(
    "ccoperator_tenants",
    "Tenant objects by kind and Ready status, as last checked.",
    ["kind", "ready"],
)


def observe_denial(reason: str) -> None:
    POLICY_DENIALS.labels(reason).inc()


def observe_tenants(counts: dict[tuple[str, bool], int]) -> None:
    for kind in ("ClusterIdentityTenant", "IdentityTenant"):
        for ready in (True, False):
            TENANTS.labels(kind, "True" if ready else "False").set(counts.get((kind, ready), 0))


def observe_identity_call(method: str, route: str, status: int | None, seconds: float) -> None:
    IDENTITY_CALLS.labels(method, route, str(status or 0)).inc()
    IDENTITY_LATENCY.labels(method, route).observe(seconds)


def observe_reconcile(cause: str, result: str) -> None:
    RECONCILES.labels(cause, result).inc()


def observe_secret_read(source: str) -> None:
    SECRET_READS.labels(source).inc()


def serve(port: int, host: str) -> None:
    start_http_server(port, addr=host)
