"""The ClientCredentialClient resource in Python: spec and status models.

The CRD under `crds/` is what the API server enforces (schema, defaults, CEL rules); these
models read what it admitted, fill the defaults that depend on the object itself (display
name, Secret name) or on operator settings (secret lifetime), and shape the status we write.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .marks import derived_client_id

GROUP = "identity.ccoperator.io"
VERSION = "v1alpha1"
KIND = "ClientCredentialClient"
PLURAL = "clientcredentialclients"
API_VERSION = f"{GROUP}/{VERSION}"

FINALIZER = f"{GROUP}/cleanup"
ROTATE_ANNOTATION = f"{GROUP}/rotate"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "ccoperator"
# Annotations on the managed Secret: they tie the Secret's value to a remote secret id, so a
# restart can tell "this Secret holds the current credential" without ever reading the value
# into status. The fingerprint is a truncated salted hash, enough to notice an edit.
SECRET_CLIENT_ID_ANNOTATION = f"{GROUP}/client-id"
SECRET_ID_ANNOTATION = f"{GROUP}/secret-id"
SECRET_EXPIRES_ANNOTATION = f"{GROUP}/secret-expires-at"
SECRET_FINGERPRINT_ANNOTATION = f"{GROUP}/secret-fingerprint"
OWNER_UID_LABEL = f"{GROUP}/owner-uid"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_FULL = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration ("2160h", "1h30m", "90s"), the form CEL's duration() accepts."""
    if not _DURATION_FULL.match(text):
        raise ValueError(f"invalid duration {text!r}: use Go form like '720h', '1h30m', '90s'")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


class DeletionPolicy(StrEnum):
    DELETE = "Delete"
    ORPHAN = "Orphan"


class ManagementPolicy(StrEnum):
    MANAGE = "Manage"  # the client is kept equal to the spec, its credentials in the Secret
    OBSERVE = "Observe"  # read only: no write to the identity service, no Secret


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class SecretKeys(_Model):
    client_id: str = Field("clientId", alias="clientId")
    client_secret: str = Field("clientSecret", alias="clientSecret")
    tenant_id: str = Field("tenantId", alias="tenantId")
    token_url: str = Field("tokenUrl", alias="tokenUrl")
    identity_url: str = Field("identityUrl", alias="identityUrl")


class SecretSpec(_Model):
    name: str | None = None
    description: str | None = None
    expires_after: str | None = Field(None, alias="expiresAfter")
    rotate_before: str | None = Field(None, alias="rotateBefore")
    keys: SecretKeys = Field(default_factory=SecretKeys)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("expires_after", "rotate_before")
    @classmethod
    def _valid_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class TenantRef(_Model):
    """Which tenant object a client belongs to. An IdentityTenant is looked up only in the
    client's own namespace; a ClusterIdentityTenant only if it selects that namespace."""

    kind: str = "ClusterIdentityTenant"
    name: str = Field(min_length=1)


class ClientSpec(_Model):
    """The desired state, as admitted by the CRD schema."""

    tenant_ref: TenantRef = Field(alias="tenantRef")
    name: str | None = None
    role_ids: tuple[str, ...] = Field(alias="roleIds", min_length=1)
    enabled: bool = True
    client_id: str | None = Field(None, alias="clientId")
    adopt: bool = False
    # v1 tenants only: seconds a token of this client lives (the service's default: 3600).
    access_token_lifetime: int | None = Field(None, alias="accessTokenLifetime", ge=60, le=3600)
    secret: SecretSpec = Field(default_factory=SecretSpec)
    deletion_policy: DeletionPolicy = Field(DeletionPolicy.DELETE, alias="deletionPolicy")
    management_policy: ManagementPolicy = Field(ManagementPolicy.MANAGE,
                                                alias="managementPolicy")

    @property
    def observe_only(self) -> bool:
        return self.management_policy is ManagementPolicy.OBSERVE

    def display_name(self, resource_name: str) -> str:
        return self.name or resource_name

    def secret_name(self, resource_name: str) -> str:
        return self.secret.name or f"{resource_name}-credentials"

    def secret_description(self, namespace: str, resource_name: str) -> str:
        """A new secret's description before our mark: spec.secret.description or a default
        naming the resource."""
        return self.secret.description or f"ccoperator {namespace}/{resource_name}"

    def desired_client_id(self, owner_key: str) -> str:
        """spec.clientId, else the id derived from the declaration's owner key (marks.py)."""
        return self.client_id or derived_client_id(owner_key)

    def lifetime(self, default: timedelta | None) -> timedelta | None:
        """How long a new secret lives; None means it never expires."""
        if self.secret.expires_after is not None:
            value = parse_duration(self.secret.expires_after)
            return value if value > timedelta(0) else None
        return default

    def rotate_before(self, lifetime: timedelta | None) -> timedelta | None:
        """How long before expiry to rotate; None when the secret never expires."""
        if lifetime is None:
            return None
        if self.secret.rotate_before is not None:
            return parse_duration(self.secret.rotate_before)
        # cert-manager's default: renew when a third of the lifetime is left.
        return lifetime / 3


class CurrentSecret(_Model):
    id: int
    expires_at: datetime | None = Field(None, alias="expiresAt")
    issued_at: datetime | None = Field(None, alias="issuedAt")


class RetiringSecret(_Model):
    id: int
    revoke_after: datetime = Field(alias="revokeAfter")


class ObservedSecret(_Model):
    id: int
    expires_at: datetime | None = Field(None, alias="expiresAt")


class ObservedClient(_Model):
    """What an Observe resource last read of its remote client (never a secret value)."""

    name: str
    enabled: bool
    role_ids: tuple[str, ...] = Field((), alias="roleIds")
    secrets: tuple[ObservedSecret, ...] = ()


class Condition(_Model):
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: datetime = Field(alias="lastTransitionTime")
    observed_generation: int | None = Field(None, alias="observedGeneration")


class ClientStatus(_Model):
    """What the operator records. Never a secret value: ids and dates only."""

    client_id: str | None = Field(None, alias="clientId")
    tenant_id: str | None = Field(None, alias="tenantId")
    secret_name: str | None = Field(None, alias="secretName")
    adopted: bool = False
    current_secret: CurrentSecret | None = Field(None, alias="currentSecret")
    retiring_secrets: tuple[RetiringSecret, ...] = Field((), alias="retiringSecrets")
    rotation_request: str | None = Field(None, alias="rotationRequest")
    # The owner key the client's mark carries, as this resource last wrote or checked it
    # (absent on clients marked before owner keys: they are re-marked on their next pass).
    owner_key: str | None = Field(None, alias="ownerKey")
    # managementPolicy: Observe only: the remote client as read, and where the spec differs.
    observed: ObservedClient | None = None
    drift: tuple[str, ...] | None = None
    drift_count: int | None = Field(None, alias="driftCount")  # the Drift printer column
    observed_generation: int | None = Field(None, alias="observedGeneration")
    conditions: tuple[Condition, ...] = ()

    @classmethod
    def from_body(cls, status: Any) -> ClientStatus:
        return cls.model_validate(dict(status or {}))

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)
