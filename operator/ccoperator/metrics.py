"""Prometheus metrics: identity calls, Secret reads and reconcile outcomes."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

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


def observe_identity_call(method: str, route: str, status: int | None, seconds: float) -> None:
    IDENTITY_CALLS.labels(method, route, str(status or 0)).inc()
    IDENTITY_LATENCY.labels(method, route).observe(seconds)


def observe_reconcile(cause: str, result: str) -> None:
    RECONCILES.labels(cause, result).inc()


def observe_secret_read(source: str) -> None:
    SECRET_READS.labels(source).inc()


def serve(port: int, host: str) -> None:
    start_http_server(port, addr=host)
