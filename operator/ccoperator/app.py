"""Assemble and run the operator: settings -> clients -> controller -> kopf.

kopf runs only raw watch-event handlers (controller/kopf_settings.py says how it is
configured), a liveness endpoint and the start-up LISTs; the identity service sees bounded
concurrency (in the identity client, so every path shares the one limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from . import metrics
from .api.clients import parse_duration
from .api.marks import Cluster
from .controller import Controller
from .controller import handlers as _handlers  # noqa: F401 - registers the kopf handlers
from .controller.events import EventPoster
from .controller.gate import Gate
from .controller.kopf_settings import configure_kopf
from .controller.leader import ElectionConfig, Leadership
from .controller.streams import ResourceStreams
from .controller.workers import RESYNC_JITTER, Runtime
from .identity import IdentityClient, IdentityConfig
from .kube.api import KubeApi
from .kube.http import KubeHttp, connect
from .kube.watch import WatchTiming
from .logs import configure_logging
from .reconcile.ownership import ClaimIndex
from .settings import Settings
from .tenants.checker import TenantChecker
from .tenants.connections import ConnectionPool
from .tenants.credentials import Credentials
from .tenants.orphans import OrphanScanner
from .tenants.registry import TenantRegistry
from .tenants.remote import RemoteReader

log = logging.getLogger("ccoperator")

def kube_configuration(config_file: str | None = None) -> k8s.Configuration:
    """Where the API server is and how to authenticate, found like kopf finds it: in-cluster,
    else the kubeconfig (`config_file`, or $KUBECONFIG / ~/.kube/config).

    Only the settings come from the official client; the calls go through `kube.http`.
    """
    configuration = k8s.Configuration()
    if config_file is None:
        with contextlib.suppress(k8s_config.ConfigException):  # not in a Pod
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return configuration
    k8s_config.load_kube_config(config_file=config_file, client_configuration=configuration)  # type: ignore[no-untyped-call]
    return configuration


def identity_config(ours: Settings, credentials: Credentials) -> IdentityConfig:
    return IdentityConfig(
        base_url=credentials.identity_url,
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        # The configured token endpoint belongs to the default service; others discover.
        token_url=ours.token_url if credentials.identity_url == ours.identity_url else None,
        read_timeout=ours.identity_timeout,
        max_concurrency=ours.identity_concurrency,
        max_connections=max(ours.identity_concurrency, 10),
        max_retries=ours.identity_max_retries,
        api_version=credentials.api_version,
        # Refused credentials are asked again once per tenant check, not on every pass.
        token_refusal_hold=ours.tenant_check.total_seconds(),
    )


class OwnCredentials:
    """The operator's own client (settings, or files from a mounted Secret), re-read at most
    every `ttl` seconds so that a rotated Secret is picked up without a restart."""

    def __init__(self, ours: Settings, ttl: float = 30.0) -> None:
        self._ours = ours
        self._ttl = ttl
        self._read_at = -ttl
        self._value: Credentials | None = None

    def __call__(self) -> Credentials | None:
        if not self._ours.has_own_credentials:
            return None
        now = time.monotonic()
        if now - self._read_at >= self._ttl:
            try:
                self._value = Credentials(self._ours.identity_url or "",
                                          self._ours.resolved_client_id(),
                                          self._ours.resolved_client_secret())
            except OSError as exc:
                log.warning("cannot read the operator's own credentials: %s", exc)
            self._read_at = now
        return self._value


def election_config(ours: Settings) -> ElectionConfig | None:
    if not ours.leader_election:
        return None
    namespace = ours.resolved_lease_namespace
    assert namespace is not None  # Settings refuses election without one
    config = ElectionConfig(
        name=ours.lease_name, namespace=namespace,
        lease_duration=parse_duration(ours.lease_duration).total_seconds(),
        renew_deadline=parse_duration(ours.renew_deadline).total_seconds(),
        retry_period=parse_duration(ours.retry_period).total_seconds(),
    )
    config.validate()
    return config


@dataclass
class Operator:
    """The assembled parts, before kopf runs them."""

    registry: TenantRegistry
    gate: Gate
    runtime: Runtime
    streams: ResourceStreams
    checker: TenantChecker
    orphans: OrphanScanner
    pool: ConnectionPool


async def cluster_identity(kube: KubeApi, configured: str | None) -> Cluster:
    """This cluster's name (CCOPERATOR_CLUSTER_NAME), and its default: the uid of the
    kube-system namespace."""
    body = await kube.get_object("/api/v1/namespaces/kube-system")
    uid = str(((body or {}).get("metadata") or {}).get("uid") or "")
    if not uid and configured is None:
        raise RuntimeError("the kube-system namespace's uid cannot be read, and it names this "
                           "cluster by default: set CCOPERATOR_CLUSTER_NAME")
    name = configured or uid
    return Cluster(name=name, default_name=uid or name)


def assemble(ours: Settings, leadership: Leadership, kube_http: KubeHttp,
             cluster: Cluster) -> Operator:
    """Settings -> tenant registry, gate, controller, runtime, streams, checker."""
    kube = KubeApi(kube_http)
    # A resync wave spreads over +-10% of the period (workers.RESYNC_JITTER): a snapshot
    # that serves the whole wave and is listed again for the next one costs about one
    # list per tenant per period, and shows drift at most about two periods late.
    snapshot_max_age = ours.resync.total_seconds() * (1 - RESYNC_JITTER)
    claims = ClaimIndex()

    def make_identity(credentials: Credentials,
                      on_proved: Callable[[], None]) -> tuple[IdentityClient, RemoteReader]:
        identity = IdentityClient(identity_config(ours, credentials),
                                  on_call=metrics.observe_identity_call,
                                  guard=leadership.check, on_proved=on_proved)
        return identity, RemoteReader(identity, max_age=snapshot_max_age,
                                      ids_of=claims.client_ids)

    pool = ConnectionPool(make_identity)
    registry = TenantRegistry(kube, pool, default_url=ours.identity_url,
                              own=OwnCredentials(ours), operator_namespace=ours.namespace)
    gate = Gate(registry, claims, default_lifetime=ours.default_lifetime)
    events = EventPoster(kube)
    controller = Controller(gate=gate, kube=kube, events=events,
                            grace_period=ours.grace_period, resync=ours.resync,
                            cluster=cluster)
    runtime = Runtime(controller, kube, resync=ours.resync, workers=ours.workers,
                      max_queue_depth=ours.max_queue_depth, leadership=leadership,
                      events=events)
    gate.poke = runtime.poke
    streams = ResourceStreams(kube_http, runtime, gate, ours.namespaces, WatchTiming(
        server_timeout=ours.watch_timeout, read_timeout=ours.watch_timeout + 60))
    checker = TenantChecker(registry, kube, period=ours.tenant_check.total_seconds(),
                            leading=leadership.leading)
    orphans = OrphanScanner(registry, kube, cluster=cluster,
                            period=ours.orphan_scan.total_seconds(), declared=runtime.declared,
                            held=claims.client_ids, watched=ours.namespaces,
                            leading=leadership.leading)
    return Operator(registry, gate, runtime, streams, checker, orphans, pool)


def register(ours: Settings, parts: Operator, background: list[asyncio.Task[None]]) -> None:
    """kopf's start-up and clean-up activities: the start-up LISTs, then the background
    tasks (streams, tenant checker, runtime), before any pass."""

    @kopf.on.startup()
    async def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_kopf(settings, watch_timeout=ours.watch_timeout,
                       clusterwide=not ours.namespaces)
        # Before any watch starts: every tenant object, namespace and recorded client id,
        # so the first passes decide on the whole picture (reconcile/ownership.py).
        await parts.registry.prime(ours.namespaces)
        # Then every managed Secret and every resource (streams.py), still before any pass.
        resources, secrets, others = await parts.streams.list()
        log.info("%d tenant objects, %d resources, %d managed Secrets (%d others); default "
                 "identity service %s", len(parts.registry.tenant_keys()), resources, secrets,
                 others, ours.identity_url or "(none)")
        background.append(asyncio.create_task(parts.streams.run()))
        background.append(asyncio.create_task(parts.checker.run()))
        background.append(asyncio.create_task(parts.runtime.run()))
        # After the start-up lists: nothing in flight looks orphaned.
        background.append(asyncio.create_task(parts.orphans.run(
            first_after=min(ours.resync, ours.orphan_scan).total_seconds())))

    @kopf.on.cleanup()
    async def _cleanup(**_: Any) -> None:
        for task in background:
            task.cancel()


async def run(ours: Settings, *, stop_flag: asyncio.Event | None = None,
              ready_flag: asyncio.Event | None = None) -> None:
    configure_logging(ours.log_format, ours.log_level)
    configuration = kube_configuration()
    leadership = Leadership(election_config(ours), configuration)
    kube_http = connect(configuration)
    # The fence: no write leaves this process unless it leads right now (leader.py).
    kube_http.write_guard = leadership.check
    cluster = await cluster_identity(KubeApi(kube_http), ours.cluster_name)
    log.info("cluster name %s (owner keys %s/<namespace>/<name>)", cluster.name, cluster.name)
    parts = assemble(ours, leadership, kube_http, cluster)
    background: list[asyncio.Task[None]] = []
    register(ours, parts, background)
    if ours.metrics_port:
        metrics.serve(ours.metrics_port, ours.bind_address)
    liveness = (f"http://{ours.bind_address}:{ours.liveness_port}/healthz"
                if ours.liveness_port else None)
    try:
        await kopf.operator(
            clusterwide=not ours.namespaces,
            namespaces=ours.namespaces,
            standalone=True,
            liveness_endpoint=liveness,
            memo=kopf.Memo(runtime=parts.runtime, gate=parts.gate),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        for task in background:
            task.cancel()
        if background:
            # The runtime stops its workers, then releases the lease: let it finish.
            await asyncio.wait(background, timeout=10.0)
        with contextlib.suppress(Exception):
            await parts.pool.aclose()
        with contextlib.suppress(Exception):
            await kube_http.close()
