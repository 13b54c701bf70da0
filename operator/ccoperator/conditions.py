"""The condition vocabulary: `Ready` summarises; each reason tells the user what happened.

Documented in README.md ("Status and conditions"); keep the two in step.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from .resource import Condition

READY = "Ready"


class Reason(StrEnum):
    # Ready=True
    CLIENT_READY = "ClientReady"
    # Ready=False, in progress (the operator is working on it; nothing for the user to do)
    CREATING = "Creating"
    # Ready=False, needs the user (permanent until the spec or the outside world changes)
    SECRET_CONFLICT = "SecretConflict"  # noqa: S105 - a reason, not a password
    CLIENT_ID_TAKEN = "ClientIdTaken"
    CLIENT_ID_CHANGED = "ClientIdChanged"
    TENANT_NOT_FOUND = "TenantNotFound"
    FORBIDDEN = "Forbidden"
    INVALID_SPEC = "InvalidSpec"
    UNAUTHORIZED = "Unauthorized"
    # Ready=False, refused by policy before any identity call (policy.py); needs the user
    TENANT_REF_NOT_FOUND = "TenantRefNotFound"
    TENANT_NOT_ALLOWED = "TenantNotAllowed"
    POLICY_DENIED = "PolicyDenied"
    CLIENT_ID_RESERVED = "ClientIdReserved"
    # Ready=False, retried automatically with backoff
    IDENTITY_UNAVAILABLE = "IdentityUnavailable"
    KUBERNETES_ERROR = "KubernetesError"
    DELETE_FAILED = "DeleteFailed"


def ready_condition(
    *,
    ready: bool,
    reason: Reason,
    message: str,
    generation: int,
    now: datetime,
    previous: Condition | None,
) -> Condition:
    """Build Ready; keep lastTransitionTime when the status value did not change."""
    status = "True" if ready else "False"
    since = previous.last_transition_time if previous and previous.status == status else now
    return Condition(
        type=READY,
        status=status,
        reason=reason.value,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )


class TenantReason(StrEnum):
    """Ready reasons of the tenant kinds (ClusterIdentityTenant, IdentityTenant)."""

    TENANT_READY = "TenantReady"
    CREDENTIALS_NOT_FOUND = "CredentialsNotFound"
    UNAUTHORIZED = "Unauthorized"
    TENANT_NOT_FOUND = "TenantNotFound"
    IDENTITY_UNAVAILABLE = "IdentityUnavailable"
