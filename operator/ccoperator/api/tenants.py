"""ClusterIdentityTenant and IdentityTenant: which tenant, with whose credentials, for whom.

The platform team declares tenant objects; a ClientCredentialClient names one in
`spec.tenantRef`. The CRDs under `crds/` enforce the shape (schema, defaults, CEL rules);
these models read what was admitted. The rules drawn from them live in `reconcile/policy.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..identity import ApiVersion
from .clients import GROUP, VERSION, parse_duration

CLUSTER_KIND = "ClusterIdentityTenant"
CLUSTER_PLURAL = "clusteridentitytenants"
NAMESPACED_KIND = "IdentityTenant"
NAMESPACED_PLURAL = "identitytenants"
PLURALS = {CLUSTER_KIND: CLUSTER_PLURAL, NAMESPACED_KIND: NAMESPACED_PLURAL}


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class Orphans(StrEnum):
    REPORT = "Report"
    DELETE = "Delete"


class Adoption(StrEnum):
    DENY = "Deny"
    ALLOW = "Allow"


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class SelectorRequirement(_Model):
    key: str
    operator: SelectorOperator
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.operator is SelectorOperator.IN:
            return present and labels[self.key] in self.values
        if self.operator is SelectorOperator.NOT_IN:
            return not present or labels[self.key] not in self.values
        if self.operator is SelectorOperator.EXISTS:
            return present
        return not present


class LabelSelector(_Model):
    """A standard Kubernetes LabelSelector: every term must hold; `{}` selects everything."""

    match_labels: dict[str, str] = Field(default_factory=dict, alias="matchLabels")
    match_expressions: tuple[SelectorRequirement, ...] = Field((), alias="matchExpressions")

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            term.matches(labels) for term in self.match_expressions)


class CredentialsSecretRef(_Model):
    name: str
    client_id_key: str = Field("clientId", alias="clientIdKey")
    client_secret_key: str = Field("clientSecret", alias="clientSecretKey")


class TenantSpec(_Model):
    tenant_id: str = Field(alias="tenantId", min_length=1)
    identity_url: str | None = Field(None, alias="identityUrl")
    credentials_secret_ref: CredentialsSecretRef | None = Field(None, alias="credentialsSecretRef")
    # Only on ClusterIdentityTenant. None selects no namespace; an empty selector all of them.
    namespace_selector: LabelSelector | None = Field(None, alias="namespaceSelector")
    allowed_role_ids: tuple[str, ...] = Field(alias="allowedRoleIds", min_length=1)
    max_secret_lifetime: str | None = Field(None, alias="maxSecretLifetime")
    adoption: Adoption = Adoption.DENY
    allowed_client_ids: tuple[str, ...] | None = Field(None, alias="allowedClientIds")
    # Which form of the identity API the tenant answers: the specification's paths, or v1.
    api_version: ApiVersion = Field(ApiVersion.UNVERSIONED, alias="apiVersion")
    # Clients marked with this cluster's name that nothing declares any more (api/marks.py).
    orphans: Orphans = Orphans.REPORT
    orphan_grace_period: str = Field("24h", alias="orphanGracePeriod")

    def orphan_grace(self) -> timedelta:
        return parse_duration(self.orphan_grace_period)

    def max_lifetime(self) -> timedelta | None:
        if self.max_secret_lifetime is None:
            return None
        return parse_duration(self.max_secret_lifetime)


@dataclass(frozen=True, order=True)
class TenantKey:
    """Which tenant object: kind, namespace ("" for the cluster-scoped kind) and name."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    def status_path(self) -> str:
        plural = PLURALS[self.kind]
        if self.kind == CLUSTER_KIND:
            return f"/apis/{GROUP}/{VERSION}/{plural}/{self.name}/status"
        return f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{plural}/{self.name}/status"


def ref_key(kind: str, name: str, namespace: str) -> TenantKey:
    """The tenant object a client in `namespace` names. An IdentityTenant is only ever the
    client's own namespace's: a reference cannot reach into another namespace."""
    return TenantKey(kind, "" if kind == CLUSTER_KIND else namespace, name)


def key_of(kind: str, body: dict[str, Any]) -> TenantKey:
    meta = body.get("metadata") or {}
    namespace = "" if kind == CLUSTER_KIND else str(meta.get("namespace") or "")
    return TenantKey(kind, namespace, str(meta.get("name") or ""))


@dataclass(frozen=True)
class TenantObject:
    """A tenant object as the watch last showed it."""

    key: TenantKey
    uid: str
    generation: int
    spec: TenantSpec | None  # None: the spec could not be read (an older CRD admitted it)
    spec_error: str | None = None
