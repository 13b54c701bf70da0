"""The Cluster interface over an existing cluster (``CCOPERATOR_TEST_KUBECONFIG``)."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from . import build
from .base import RestartUnsupportedError
from .kubeconfig import api_client_from_kubeconfig, run_kubectl

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class ExternalCluster:
    """The Cluster interface over a cluster someone else runs; builds and starts nothing."""

    supports_restart = False

    def __init__(self, kubeconfig: Path | str) -> None:
        self.kubeconfig = Path(kubeconfig).expanduser().resolve()
        doc = yaml.safe_load(self.kubeconfig.read_text())
        ctx_name = doc.get("current-context")
        ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
        self.server: str = cluster["server"]
        self._ca: bytes | None = None
        if "certificate-authority-data" in cluster:
            self._ca = base64.b64decode(cluster["certificate-authority-data"])
        elif "certificate-authority" in cluster:
            ca_path = Path(cluster["certificate-authority"])
            if not ca_path.is_absolute():
                ca_path = self.kubeconfig.parent / ca_path
            self._ca = ca_path.read_bytes()
        built = build.binary("kubectl")
        self._kubectl: Path | str = built if os.access(built, os.X_OK) else (
            shutil.which("kubectl") or "kubectl")

    def ca_pem(self) -> bytes | None:
        return self._ca

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60.0, kubeconfig: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(self._kubectl, kubeconfig or self.kubeconfig, args, check=check,
                            input=input,
                            timeout=timeout, cache_dir=None)

    def api_client(self) -> ApiClient:
        return api_client_from_kubeconfig(self.kubeconfig)

    def restart_apiserver(self) -> None:
        raise RestartUnsupportedError(
            f"cannot restart the apiserver of an external cluster ({self.server})")
