"""The condition vocabulary: `Ready` summarises; each reason tells the user what happened.

Documented in README.md ("Status and conditions"); keep the two in step.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from .clients import Condition

READY = "Ready"


class Reason(StrEnum):
    # Ready=True
    CLIENT_READY = "ClientReady"
    OBSERVED = "Observed"  # managementPolicy: Observe, the client exists (status.drift says more)
    # Ready=False, in progress (the operator is working on it; nothing for the user to do)
    CREATING = "Creating"
    # Ready=False, needs the user (permanent until the spec or the outside world changes)
    SECRET_CONFLICT = "SecretConflict"  # noqa: S105 - a reason, not a password
    CLIENT_ID_TAKEN = "ClientIdTaken"
    # The client this resource managed is now marked for another declaration (a handover):
    # nothing is written to it any more.
    OWNED_ELSEWHERE = "OwnedElsewhere"
    # managementPolicy: Observe: spec.clientId names no client of the tenant.
    CLIENT_NOT_FOUND = "ClientNotFound"
    CLIENT_ID_CHANGED = "ClientIdChanged"
    TENANT_NOT_FOUND = "TenantNotFound"
    FORBIDDEN = "Forbidden"
    INVALID_SPEC = "InvalidSpec"
    UNAUTHORIZED = "Unauthorized"
    # Ready=False, refused by policy before any identity call (reconcile/policy.py); needs the user
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


# ------------------------------------------------------------------------------- Stalled
# GitOps tools read more than Ready. kstatus (Flux, kpt, `kubectl wait`-style tooling) calls a
# resource Failed only through a `Stalled=True` condition, and InProgress through Ready=False or
# a stale observedGeneration; Argo CD reads the health check in deploy/argocd/. So the
# operator writes `Stalled=True` (reason and message copied from Ready) exactly when Ready=False
# for a reason no retry will fix, and leaves Stalled out otherwise: absent, not False, so the
# resources that never stalled keep the status they had and a no-op resync still writes nothing.
# No `Reconciling` condition: Ready=False already reads as InProgress, and writing one more
# condition on every retry would only add status writes.
STALLED = "Stalled"

# Ready=False reasons that need someone to act (the README's "what to do" is not "wait"): the
# spec, a tenant object, the identity service's grants or the operator's own credentials must
# change. Creating, IdentityUnavailable, KubernetesError and DeleteFailed are retried with
# backoff and are work in progress. Tenant objects' reasons are here too (the same names mean
# the same on both): Stalled, the Argo CD health check and the alerts agree on one list.
NEEDS_USER: frozenset[str] = frozenset({
    Reason.SECRET_CONFLICT, Reason.CLIENT_ID_TAKEN, Reason.CLIENT_ID_CHANGED,
    Reason.OWNED_ELSEWHERE, Reason.CLIENT_NOT_FOUND,
    Reason.TENANT_NOT_FOUND, Reason.FORBIDDEN, Reason.INVALID_SPEC, Reason.UNAUTHORIZED,
    Reason.TENANT_REF_NOT_FOUND, Reason.TENANT_NOT_ALLOWED, Reason.POLICY_DENIED,
    Reason.CLIENT_ID_RESERVED, TenantReason.CREDENTIALS_NOT_FOUND,
})


def stalled_condition(ready: Condition, *, now: datetime,
                      previous: Condition | None) -> Condition | None:
    """`Stalled=True` mirroring Ready when Ready=False needs the user; None (absent) otherwise.

    lastTransitionTime is kept while the resource stays stalled, even as the reason changes.
    """
    if ready.status != "False" or ready.reason not in NEEDS_USER:
        return None
    since = previous.last_transition_time if previous and previous.status == "True" else now
    return Condition(
        type=STALLED,
        status="True",
        reason=ready.reason,
        message=ready.message,
        last_transition_time=since,
        observed_generation=ready.observed_generation,
    )
