"""Prometheus metrics: identity calls, Secret reads, reconcile outcomes, policy denials, tenant
objects, and the per-resource
state the alerts in deploy/monitoring/ need (Ready reasons, secret expiry, rotation deadline,
leadership)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .api.clients import ClientSpec, ClientStatus, CurrentSecret

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

LEADER = Gauge(
    "ccoperator_leader",
    "1 while this process reconciles (holds leadership), else 0.",
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


ORPHANED = Gauge(
    "ccoperator_orphaned_clients",
    "Clients marked with this cluster's name that no ClientCredentialClient declares any more, "
    "per tenant object (Kind/name or Kind/namespace/name), as of the last orphan scan.",
    ["tenant_object"],
)
_orphan_labels: set[str] = set()


def observe_orphans(counts: dict[str, int]) -> None:
    for gone in _orphan_labels - set(counts):
        ORPHANED.remove(gone)
    for label, count in counts.items():
        ORPHANED.labels(label).set(count)
    _orphan_labels.clear()
    _orphan_labels.update(counts)


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


# ------------------------------------------------------------------------ per resource

@dataclass(frozen=True)
class ResourceState:
    namespace: str
    name: str
    ready: str  # the Ready condition's status: True, False, Unknown (no condition yet)
    reason: str  # its reason ("" when there is none)
    expires_at: datetime | None  # the current secret's expiry; None: never expires / none yet
    rotate_at: datetime | None  # when the operator rotates it (expiry - rotateBefore)


def rotation_deadline(spec: ClientSpec, default_lifetime: timedelta | None,
                      current: CurrentSecret) -> datetime | None:
    """When the current secret is due for rotation: reconcile.rotation_time's rule (a unit
    test holds the two equal), from the spec alone."""
    if current.expires_at is None:
        return None
    before = spec.rotate_before(spec.lifetime(default_lifetime))
    if before is None:
        issued = current.issued_at or current.expires_at
        before = (current.expires_at - issued) / 3
    return current.expires_at - before


class ResourceCollector(Collector):
    """Gauges computed at scrape time from the last known state of each resource, so counts
    stay right however resources change reason, and a deleted resource leaves no series."""

    # A scrape builds two series per resource (20,000 at 10,000 resources). Prometheus scrapes
    # every 15-60 s; anything polling faster (the benchmark polls 4 times a second) would spend
    # the operator's CPU on rebuilding them: families built within this many seconds are
    # served again. Each answer is one consistent snapshot, at most this old.
    REBUILD_AFTER_SECONDS = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._states: dict[str, ResourceState] = {}
        self._lock = threading.Lock()  # scrapes run on the metrics server's thread
        self._clock = clock
        self._built: tuple[float, list[Metric]] | None = None
        self._text: tuple[tuple[float, list[Metric]], bytes] | None = None

    def set(self, uid: str, state: ResourceState) -> None:
        with self._lock:
            self._states[uid] = state

    def forget(self, uid: str) -> None:
        with self._lock:
            self._states.pop(uid, None)

    def states(self) -> list[ResourceState]:
        with self._lock:
            return list(self._states.values())

    def collect(self) -> Iterator[Metric]:
        yield from self._snapshot()[1]

    def exposition(self) -> bytes:
        """The families in the text format, formatted once per snapshot: formatting 20,000
        series was most of a scrape's cost once the families themselves were kept."""
        built = self._snapshot()
        text = self._text
        if text is None or text[0] is not built:
            text = self._text = (built, generate_latest(_Families(built[1])))
        return text[1]

    def _snapshot(self) -> tuple[float, list[Metric]]:
        now = self._clock()
        built = self._built
        if built is None or now - built[0] >= self.REBUILD_AFTER_SECONDS:
            built = self._built = (now, list(self._build()))
        return built

    def _build(self) -> Iterator[Metric]:
        states = self.states()
        resources = GaugeMetricFamily(
            "ccoperator_resources",
            "ClientCredentialClients by their Ready condition's status and reason.",
            labels=["ready", "reason"])
        for (ready, reason), count in sorted(Tally((s.ready, s.reason) for s in states).items()):
            resources.add_metric([ready, reason], count)
        expiry = GaugeMetricFamily(
            "ccoperator_secret_expiry_timestamp_seconds",
            "When the current secret of each ClientCredentialClient expires (Unix time); no "
            "series for a secret that never expires.",
            labels=["namespace", "name"])
        deadline = GaugeMetricFamily(
            "ccoperator_secret_rotation_deadline_timestamp_seconds",
            "When the operator is due to rotate each current secret (expiry minus "
            "rotateBefore, Unix time); a value in the past means a rotation is overdue.",
            labels=["namespace", "name"])
        for s in sorted(states, key=lambda s: (s.namespace, s.name)):
            if s.expires_at is not None:
                expiry.add_metric([s.namespace, s.name], s.expires_at.timestamp())
            if s.rotate_at is not None:
                deadline.add_metric([s.namespace, s.name], s.rotate_at.timestamp())
        yield resources
        yield expiry
        yield deadline


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


# Not in REGISTRY: /metrics appends its cached text to the registry's (serve()).
RESOURCES = ResourceCollector()


def resource_state(namespace: str, name: str, status: ClientStatus,
                   spec: ClientSpec | Mapping[str, Any],
                   default_lifetime: timedelta | None) -> ResourceState:
    ready = status.condition("Ready")
    current = status.current_secret
    rotate_at = None
    if current is not None:
        try:
            parsed = spec if isinstance(spec, ClientSpec) else ClientSpec.model_validate(spec)
        except ValueError:
            parsed = None  # an unreadable spec is reported as InvalidSpec; no deadline then
        if parsed is not None:
            rotate_at = rotation_deadline(parsed, default_lifetime, current)
    return ResourceState(
        namespace=namespace,
        name=name,
        ready=ready.status if ready else "Unknown",
        reason=ready.reason if ready else "",
        expires_at=current.expires_at if current else None,
        rotate_at=rotate_at,
    )


def observe_resource(uid: str, namespace: str, name: str, status: ClientStatus,
                     spec: ClientSpec | Mapping[str, Any],
                     default_lifetime: timedelta | None) -> None:
    RESOURCES.set(uid, resource_state(namespace, name, status, spec, default_lifetime))


def forget_resource(uid: str) -> None:
    RESOURCES.forget(uid)


class _MetricsHandler(BaseHTTPRequestHandler):
    """/metrics in the Prometheus text format: the registry's families, formatted at each
    scrape (counters a poller waits on are never stale), then the per-resource families'
    text, formatted once per snapshot (ResourceCollector.exposition)."""

    def do_GET(self) -> None:
        if urlsplit(self.path).path not in ("/", "/metrics"):
            self.send_error(404)
            return
        body = generate_latest(REGISTRY) + RESOURCES.exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # one line per scrape is noise


class _Server(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        # An IPv6 bind address ("::") needs an IPv6 socket; the class attribute is IPv4.
        self.address_family = socket.getaddrinfo(address[0], address[1],
                                                 type=socket.SOCK_STREAM)[0][0]
        super().__init__(address, handler)


def serve(port: int, host: str) -> ThreadingHTTPServer:
    # ccoperator_leader is set by controller/leader.py as leadership comes and goes.
    server = _Server((host, port), _MetricsHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


# ------------------------------------------------------------------------ the work queue

QUEUE_DEPTH = Gauge(
    "ccoperator_workqueue_depth",
    "Keys (resources) waiting in the work queue for a worker.",
)
QUEUE_TIMERS = Gauge(
    "ccoperator_workqueue_timers",
    "Keys with a pending deadline (resync, rotation, retry) in the timer heap.",
)
WORKERS = Gauge(
    "ccoperator_workqueue_workers",
    "Workers taking keys from the queue (0 while this process does not lead).",
)
BUSY_WORKERS = Gauge(
    "ccoperator_workqueue_busy_workers",
    "Workers processing a key right now.",
)
QUEUE_RETRIES = Counter(
    "ccoperator_workqueue_retries_total",
    "Keys requeued with backoff after a failure the reconcile did not handle itself.",
)
QUEUE_ADDS = Counter(
    "ccoperator_workqueue_adds_total",
    "Keys added to the work queue, by why: change (watch event or poke), timer, leading "
    "(every resource on becoming leader).",
    ["why"],
)
