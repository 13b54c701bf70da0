"""Operator settings: one typed class, read from CCOPERATOR_* environment variables.

`ccoperator run` flags mirror these fields (see cli.py); a flag given on the command line wins
over the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .api.clients import parse_duration


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True)
class Metavar:
    """How `ccoperator run --help` names a value of the type it annotates (cli.py reads it):
    the type says it once, so a new field of that type gets the same name for free."""

    name: str


def _checked_duration(value: str) -> str:
    parse_duration(value)
    return value


# Kept as written ("10m"): the help shows it so, and properties parse it where it is used.
Duration = Annotated[str, AfterValidator(_checked_duration), Metavar("DURATION")]
Url = Annotated[str, Metavar("URL")]
Port = Annotated[int, Field(ge=0, le=65535), Metavar("PORT")]
# Part of every owner key (api/marks.py), so never a "/": a DNS label or a uid.
ClusterName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$"),
                        Metavar("NAME")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCOPERATOR_", extra="ignore")

    identity_url: Url | None = Field(
        None,
        description="Default base URL of the identity service, for tenant objects without "
        "spec.identityUrl; API paths are `{url}/api/Tenants/...`.",
    )
    token_url: Url | None = Field(
        None,
        description="Token endpoint of the default identity URL; when unset it is discovered "
        "from `{identity_url}/identity/.well-known/openid-configuration`.",
    )
    client_id: str | None = Field(
        None, description="The operator's own client id, for tenant objects without "
        "spec.credentialsSecretRef (optional).")
    client_id_file: Path | None = Field(
        None, description="File holding the operator's client id (a mounted Secret key)."
    )
    client_secret: SecretStr | None = Field(None, description="The operator's own client secret.")
    client_secret_file: Path | None = Field(
        None, description="File holding the operator's client secret (a mounted Secret key)."
    )
    # NoDecode: the environment gives "a,b", not JSON; _split_namespaces parses it.
    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Namespaces to watch (comma-separated); empty means all namespaces. "
        "Not to be confused with --namespace, the operator's own namespace.",
    )
    resync_period: Duration = Field(
        "10m", description="How often each resource is compared with the identity service "
        "(Go duration; jittered by +-10%)."
    )
    secret_lifetime: Duration = Field(
        "2160h", description="Lifetime of a new client secret when spec.secret.expiresAfter "
        "is unset (Go duration; 0s means secrets never expire)."
    )
    rotation_grace_period: Duration = Field(
        "1h", description="After a rotation, how long the previous secret stays valid so "
        "running workloads can pick up the new one."
    )
    identity_concurrency: int = Field(
        8, ge=1, le=256, description="Maximum identity API calls in flight at once."
    )
    identity_timeout: Annotated[float, Metavar("SECONDS")] = Field(
        10.0, gt=0, description="Seconds to wait for one identity API answer."
    )
    identity_max_retries: int = Field(
        4, ge=0, le=20, description="Retries of an idempotent identity call on transient errors."
    )
    log_format: LogFormat = Field(LogFormat.TEXT, description="Log format: text or json.")
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    bind_address: str = Field(
        "0.0.0.0",  # noqa: S104 - in a pod, probes and scrapes come from outside
        description="Address the liveness and metrics endpoints listen on.",
    )
    liveness_port: Port = Field(
        8080, description="Port of the /healthz liveness endpoint (0 = off)."
    )
    metrics_port: Port = Field(
        9090, description="Port of the Prometheus /metrics endpoint (0 = off)."
    )
    watch_timeout: Annotated[int, Metavar("SECONDS")] = Field(
        300, ge=10, description="Seconds before a quiet watch stream is restarted."
    )
    namespace: str | None = Field(
        None, description="The operator's own namespace (from the downward API), where "
        "ClusterIdentityTenant credentials Secrets live; it does not limit what is watched "
        "(that is --watch-namespaces)."
    )
    tenant_check_period: Duration = Field(
        "1m", description="How often each tenant object's credentials are read again and "
        "checked against the identity service (Go duration)."
    )

    leader_election: bool = Field(
        False, description="Stand for leadership on a coordination.k8s.io Lease; only the "
        "leader writes (to Kubernetes and the identity service), standbys keep their caches "
        "warm. Needed for more than one replica."
    )
    lease_duration: Duration = Field(
        "15s", description="How long a lease lasts without renewal before a standby may take "
        "it (Go duration, whole seconds)."
    )
    renew_deadline: Duration = Field(
        "10s", description="How long the leader keeps trying to renew before it stops acting; "
        "shorter than lease_duration (Go duration, whole seconds)."
    )
    retry_period: Duration = Field(
        "2s", description="How often candidates try to acquire and the leader renews (Go "
        "duration, whole seconds)."
    )
    lease_name: str = Field(
        "ccoperator-leader", description="Name of the Lease that leader election holds."
    )
    lease_namespace: str | None = Field(
        None, description="Namespace of the Lease; defaults to CCOPERATOR_NAMESPACE (the "
        "operator's own namespace)."
    )
    cluster_name: ClusterName | None = Field(
        None, description="The name of this cluster as its estate knows it: a declaration's "
        "owner key is <cluster name>/<namespace>/<name>, and the default client id derives "
        "from it. Unset: the uid of the kube-system namespace (unique, but new after a "
        "rebuild): set a stable name to keep clients across rebuilds and restores; two live "
        "clusters must have different names."
    )
    orphan_scan_period: Duration = Field(
        "1h", description="How often each tenant is listed for clients marked with this "
        "cluster's name that no resource declares any more (orphans; Go duration)."
    )
    workers: int = Field(
        64, ge=1, le=1024, description="Workers reconciling resources at once (keys taken "
        "from the work queue; one key is never held by two workers)."
    )
    max_queue_depth: int = Field(
        0, ge=0, description="Keys the work queue holds before new ones are deferred by a "
        "second (0 = unbounded; a key is queued at most once, so depth never exceeds the "
        "number of resources)."
    )

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return upper

    @model_validator(mode="after")
    def _credentials_given(self) -> Settings:
        # Own credentials are optional (tenant objects may all name their own), but an id
        # without a secret, or the reverse, is a mistake worth stopping for.
        has_id = self.client_id is not None or self.client_id_file is not None
        has_secret = self.client_secret is not None or self.client_secret_file is not None
        if has_id and not has_secret:
            raise ValueError("CCOPERATOR_CLIENT_ID is set: also set CCOPERATOR_CLIENT_SECRET "
                             "or CCOPERATOR_CLIENT_SECRET_FILE")
        if has_secret and not has_id:
            raise ValueError("CCOPERATOR_CLIENT_SECRET is set: also set CCOPERATOR_CLIENT_ID "
                             "or CCOPERATOR_CLIENT_ID_FILE")
        return self

    @model_validator(mode="after")
    def _election_consistent(self) -> Settings:
        if not self.leader_election:
            return self
        if self.resolved_lease_namespace is None:
            raise ValueError("CCOPERATOR_LEADER_ELECTION is on but no namespace is known for "
                             "the Lease: set CCOPERATOR_NAMESPACE (the downward API's "
                             "metadata.namespace) or CCOPERATOR_LEASE_NAMESPACE")
        lease, renew, retry = (parse_duration(v).total_seconds() for v in
                               (self.lease_duration, self.renew_deadline, self.retry_period))
        if any(v != int(v) or v < 1 for v in (lease, renew, retry)):
            raise ValueError("lease_duration, renew_deadline and retry_period must be whole "
                             "seconds, at least 1s (the Lease counts whole seconds)")
        if not lease > renew > 1.2 * retry:
            raise ValueError("leader election needs lease_duration > renew_deadline > "
                             "1.2 x retry_period (defaults 15s, 10s, 2s)")
        return self

    @property
    def resolved_lease_namespace(self) -> str | None:
        return self.lease_namespace or self.namespace

    @property
    def has_own_credentials(self) -> bool:
        return self.client_id is not None or self.client_id_file is not None

    def resolved_client_id(self) -> str:
        if self.client_id is not None:
            return self.client_id
        assert self.client_id_file is not None, "no own credentials: see has_own_credentials"
        return self.client_id_file.read_text().strip()

    def resolved_client_secret(self) -> SecretStr:
        if self.client_secret is not None:
            return self.client_secret
        assert self.client_secret_file is not None, "no own credentials"
        return SecretStr(self.client_secret_file.read_text().strip())

    @property
    def tenant_check(self) -> timedelta:
        return parse_duration(self.tenant_check_period)

    @property
    def resync(self) -> timedelta:
        return parse_duration(self.resync_period)

    @property
    def default_lifetime(self) -> timedelta | None:
        value = parse_duration(self.secret_lifetime)
        return value if value > timedelta(0) else None

    @property
    def grace_period(self) -> timedelta:
        return parse_duration(self.rotation_grace_period)

    @property
    def orphan_scan(self) -> timedelta:
        return parse_duration(self.orphan_scan_period)
