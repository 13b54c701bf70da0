"""The Argo CD health check and kstatus on the tenant kinds, which this branch does not have
yet: hand-written objects shaped like their spec (observedGeneration, Ready, Stalled). The
ClientCredentialClient is judged on objects the real operator wrote (test_health_e2e.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ccoperator.api.conditions import NEEDS_USER

from .objects import KINDS, health_scripts, tenant, without_status
from .tools import argocd_health, kstatus

TENANT_KINDS = ("ClusterIdentityTenant", "IdentityTenant")

# (object, Argo CD health, kstatus)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("ready", {"ready": ("True", "TenantReady")}, "Healthy", "Current"),
    ("no status yet", {}, "Progressing", "Current"),  # kstatus: see test_health_e2e
    ("not observed yet (the CRDs' default status)", {"generation": 1, "observed": 0},
     "Progressing", "InProgress"),
    ("stale generation", {"generation": 2, "observed": 1, "ready": ("True", "TenantReady")},
     "Progressing", "InProgress"),
    ("identity unavailable", {"ready": ("False", "IdentityUnavailable")},
     "Progressing", "InProgress"),
    ("credentials not found", {"ready": ("False", "CredentialsNotFound"), "stalled": True},
     "Degraded", "Failed"),
    ("unauthorized", {"ready": ("False", "Unauthorized"), "stalled": True},
     "Degraded", "Failed"),
    ("tenant not found", {"ready": ("False", "TenantNotFound"), "stalled": True},
     "Degraded", "Failed"),
    # Without Stalled, kstatus cannot tell "needs the user" from "working": why it is written.
    ("tenant not found, no Stalled", {"ready": ("False", "TenantNotFound")},
     "Degraded", "InProgress"),
    ("stalled at an old generation", {"generation": 3, "observed": 2,
                                      "ready": ("False", "TenantNotFound"), "stalled": True},
     "Progressing", "InProgress"),
]


def test_argocd_cm_has_one_script_for_all_three_kinds() -> None:
    scripts = health_scripts()
    assert set(scripts) == set(KINDS)
    assert len(set(scripts.values())) == 1


def test_script_knows_exactly_the_reasons_that_need_the_user() -> None:
    script = health_scripts()["ClientCredentialClient"]
    table = re.search(r"local needsUser = \{(.*?)\}", script, re.S)
    assert table is not None
    assert set(re.findall(r"(\w+) = true", table.group(1))) == set(NEEDS_USER)


@pytest.mark.parametrize("kind", TENANT_KINDS)
@pytest.mark.parametrize(("case", "shape", "argocd", "flux"), CASES, ids=[c[0] for c in CASES])
def test_tenant_health(kind: str, case: str, shape: dict[str, Any], argocd: str,
                       flux: str) -> None:
    obj = tenant(kind, **shape) if shape else without_status(tenant(kind))
    health = argocd_health(health_scripts()[kind], obj)
    assert health["status"] == argocd, (case, health)
    assert kstatus(obj)["status"] == flux, case
    if argocd == "Degraded":
        assert shape["ready"][1] in health["message"]


def test_script_errors_are_not_hidden() -> None:
    """A broken script must fail the checker, not read as some status."""
    with pytest.raises(AssertionError, match="attempt to"):
        argocd_health("return obj.nothing.here", tenant("IdentityTenant"))
