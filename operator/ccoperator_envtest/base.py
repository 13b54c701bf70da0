"""What every cluster offers the tests, the demo and the benchmarks, and how it fails.

``Cluster`` is the interface; ``ControlPlane`` (:mod:`.cluster`) and ``ExternalCluster``
(:mod:`.external`) implement it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

SERVICE_CIDR = "10.0.0.0/24"
# The first address of the service range is the in-cluster `kubernetes` Service; a real
# serving cert carries it, so in-cluster style clients would verify too.
SERVICE_IP = "10.0.0.1"


class ControlPlaneError(RuntimeError):
    """A component failed to start, died, or did not become ready in time."""


class RestartUnsupportedError(ControlPlaneError):
    """restart_apiserver() on a cluster this process does not run (CCOPERATOR_TEST_KUBECONFIG)."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; unlike CalledProcessError, str() carries kubectl's stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr: {self.stderr}"


class Cluster(Protocol):
    """What tests, the demo and benchmarks may rely on, whoever runs the cluster."""

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def server(self) -> str: ...

    @property
    def supports_restart(self) -> bool: ...

    def ca_pem(self) -> bytes | None: ...

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60.0, kubeconfig: Path | None = None
                ) -> subprocess.CompletedProcess[str]: ...

    def api_client(self) -> ApiClient: ...

    def restart_apiserver(self) -> None: ...
