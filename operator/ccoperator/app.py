"""Assemble and run the operator: settings -> clients -> controller -> kopf.

kopf runs only raw watch-event handlers (controller/kopf_settings.py says how it is
configured), a liveness endpoint and the start-up LISTs; the identity service sees bounded
concurrency (in the identity client, so every path shares the one limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kopf
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from . import metrics
from .api.clients import parse_duration
from .api.marks import Cluster
from .assembly import OwnCredentials, build_core, cluster_identity, identity_config
from .controller import handlers as _handlers  # noqa: F401 - registers the kopf handlers
from .controller.events import EventPoster
from .controller.gate import Gate
from .controller.kopf_settings import configure_kopf
from .controller.leader import ElectionConfig, Leadership
from .controller.streams import ResourceStreams
from .controller.workers import Runtime
from .identity import IdentityClient, IdentityConfig
from .kube.api import KubeApi
from .kube.http import KubeHttp, connect
from .kube.watch import WatchTiming
from .logs import configure_logging
from .settings import Settings
from .tenants.checker import TenantChecker
from .tenants.connections import ConnectionPool
from .tenants.orphans import OrphanScanner
from .tenants.registry import TenantRegistry

# Moved to assembly.py (shared with `ccoperator plan`); still importable from here.
__all__ = ["OwnCredentials", "cluster_identity", "identity_config"]

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


def assemble(ours: Settings, leadership: Leadership, kube_http: KubeHttp,
             cluster: Cluster) -> Operator:
    """Settings -> tenant registry, gate, controller, runtime, streams, checker."""
    kube = KubeApi(kube_http)
    events = EventPoster(kube)

    def new_identity(config: IdentityConfig, on_proved: Callable[[], None]) -> IdentityClient:
        return IdentityClient(config, on_call=metrics.observe_identity_call,
                              guard=leadership.check, on_proved=on_proved)

    core = build_core(ours, kube, cluster, events=events, new_identity=new_identity)
    claims, pool, registry, gate = core.claims, core.pool, core.registry, core.gate
    controller = core.controller
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
