"""pytest plugin: the ClientCredentialClient CRD installed on the session's control plane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ccoperator_envtest.cluster import wait_crd_established

CRD_NAME = "clientcredentialclients.identity.ccoperator.io"
CRD_FILE = Path(__file__).resolve().parents[1] / "crds" / "clientcredentialclients.yaml"


@pytest.fixture(scope="session")
def crd(control_plane: Any) -> str:
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    wait_crd_established(control_plane, CRD_NAME)
    return CRD_NAME
