"""The parts that decide as the operator decides, built one way for every process that needs
them: the operator (`app.assemble`) and `ccoperator plan`, which must decide exactly as the
operator would (docs/ARCHITECTURE.md, "Nothing changes unseen").

From settings, a Kubernetes session and the cluster's name: the claim index, one identity client
per tenant credentials (the connection pool), the tenant registry, the gate and the controller.
The caller says how an identity client is built (the operator: metrics and the leader's fence;
plan: a fence that lets only reads out) and where events go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .api.marks import Cluster
from .controller import Controller
from .controller.gate import Gate
from .controller.view import EventSink
from .controller.workers import RESYNC_JITTER
from .identity import IdentityClient, IdentityConfig
from .kube.api import KubeApi
from .reconcile.ownership import ClaimIndex
from .settings import Settings
from .tenants.connections import ConnectionPool
from .tenants.credentials import Credentials
from .tenants.registry import TenantRegistry
from .tenants.remote import RemoteReader

log = logging.getLogger("ccoperator")

# Builds the identity client of one tenant credentials pair from its configuration; the
# callback is to be called when those credentials first obtain a token.
NewIdentity = Callable[[IdentityConfig, Callable[[], None]], IdentityClient]


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


@dataclass
class Core:
    """What a pass decides with."""

    claims: ClaimIndex
    pool: ConnectionPool
    registry: TenantRegistry
    gate: Gate
    controller: Controller


def build_core(ours: Settings, kube: KubeApi, cluster: Cluster, *, events: EventSink,
               new_identity: NewIdentity) -> Core:
    """Settings -> claim index, connection pool, tenant registry, gate, controller."""
    # A resync wave spreads over +-10% of the period (workers.RESYNC_JITTER): a snapshot
    # that serves the whole wave and is listed again for the next one costs about one
    # list per tenant per period, and shows drift at most about two periods late.
    snapshot_max_age = ours.resync.total_seconds() * (1 - RESYNC_JITTER)
    claims = ClaimIndex()

    def make_identity(credentials: Credentials,
                      on_proved: Callable[[], None]) -> tuple[IdentityClient, RemoteReader]:
        identity = new_identity(identity_config(ours, credentials), on_proved)
        return identity, RemoteReader(identity, max_age=snapshot_max_age,
                                      ids_of=claims.client_ids)

    pool = ConnectionPool(make_identity)
    registry = TenantRegistry(kube, pool, default_url=ours.identity_url,
                              own=OwnCredentials(ours), operator_namespace=ours.namespace)
    gate = Gate(registry, claims, default_lifetime=ours.default_lifetime)
    controller = Controller(gate=gate, kube=kube, events=events,
                            grace_period=ours.grace_period, resync=ours.resync,
                            cluster=cluster)
    return Core(claims, pool, registry, gate, controller)
