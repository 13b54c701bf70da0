"""pytest plugin: the ClientCredentialClient CRD installed on the session's control plane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CRD_NAME = "clientcredentialclients.identity.ccoperator.io"
CRD_FILE = Path(__file__).resolve().parents[1] / "crds" / "clientcredentialclients.yaml"


@pytest.fixture(scope="session")
def crd(control_plane: Any) -> str:
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                          f"crd/{CRD_NAME}")
    return CRD_NAME
