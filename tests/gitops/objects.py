"""Objects of the three kinds as the operator writes them, and the health checks that judge them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ARGOCD_CM = REPO / "deploy" / "argocd" / "argocd-cm.yaml"
GROUP = "identity.ccoperator.io"
KINDS = ("ClientCredentialClient", "ClusterIdentityTenant", "IdentityTenant")


def health_scripts() -> dict[str, str]:
    """kind -> the Lua health check shipped for it in argocd-cm."""
    data = yaml.safe_load(ARGOCD_CM.read_text())["data"]
    prefix = f"resource.customizations.health.{GROUP}_"
    return {key.removeprefix(prefix): value for key, value in data.items()
            if key.startswith(prefix)}


def condition(type_: str, status: str, reason: str, generation: int,
              message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason,
            "message": message or f"{type_} is {status}: {reason}",
            "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": generation}


def tenant(kind: str, *, generation: int = 1, observed: int | None = 1,
           ready: tuple[str, str] | None = None, stalled: bool = False) -> dict[str, Any]:
    """A hand-written tenant object shaped like the round-2 spec (status.observedGeneration,
    a Ready condition, Stalled=True with Ready's reason when the user must act)."""
    metadata: dict[str, Any] = {"name": "acme", "uid": "00000000-0000-4000-8000-00000000ac3e",
                                "generation": generation}
    if kind == "IdentityTenant":
        metadata["namespace"] = "team-a"
    obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1alpha1", "kind": kind,
                           "metadata": metadata,
                           "spec": {"tenantId": "acme"}}
    if ready is None:
        if observed == 0:  # as the CRDs default it before the operator's first write
            obj["status"] = {"observedGeneration": 0}
        return obj
    conditions = [condition("Ready", ready[0], ready[1], observed or generation)]
    if stalled:
        conditions.append(condition("Stalled", "True", ready[1], observed or generation))
    obj["status"] = {"conditions": conditions}
    if observed is not None:
        obj["status"]["observedGeneration"] = observed
    return obj


def without_status(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out.pop("status", None)
    return out
