"""The image users get, built from the one Dockerfile and run with podman: non-root, read-only
root filesystem, on the host network against the real control plane and the simulator, with
the deploy/ ServiceAccount's token mounted where a pod has it (in-cluster configuration)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from ccoperator_envtest import image as images

from .installed import short_lifecycle
from .support import REPO, Kube, free_port, wait_for

SYSTEM_NAMESPACE = "ccoperator-system"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
IDENTITY_DIR = "/var/run/secrets/ccoperator/identity"


@pytest.fixture(scope="module")
def operator_image(request: pytest.FixtureRequest) -> str:
    capman = request.config.pluginmanager.getplugin("capturemanager")
    quiet = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    with quiet:  # a cold build takes a few minutes: show its progress
        return images.ensure_image(REPO)


def test_image_runs_as_non_root_by_default(operator_image: str) -> None:
    user = images.podman("image", "inspect", "--format", "{{.Config.User}}", operator_image)
    assert user.stdout.strip() == "10001:10001"
    # The entrypoint works with nothing writable (the image alone: no mounts at all).
    result = images.podman("run", "--rm", "--read-only", "--network", "none", operator_image,
                           "run", "--help")
    assert "--identity-url" in result.stdout


def _mounted_dir(files: dict[str, str]) -> Path:
    """A folder readable by uid 10001, as a kubelet projects a Secret or a token."""
    folder = Path(tempfile.mkdtemp(prefix="ccoperator-image-"))
    folder.chmod(0o755)
    for name, content in files.items():
        (folder / name).write_text(content)
        (folder / name).chmod(0o644)
    return folder


class Container:
    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.name = f"ccoperator-e2e-{uuid.uuid4().hex[:8]}"
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                images.podman_argv("run", "--rm", "--name", self.name, *argv),
                env=images.podman_env(), stdout=log, stderr=subprocess.STDOUT)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        images.podman("stop", "--time", "10", self.name, check=False, timeout=60)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            images.podman("rm", "--force", self.name, check=False)
            self.proc.wait(timeout=30)


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    made: list[Path] = []
    yield made
    for folder in made:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def test_image_reconciles_under_deploy_rbac(
        operator_image: str, control_plane: Any, crd: str, namespace: str, kube: Kube,
        sim: Any, sim_api: Any, service_account_token: Any, mounts: list[Path],
        tmp_path: Path) -> None:
    base = REPO / "deploy" / "base"
    created = control_plane.kubectl("create", "namespace", SYSTEM_NAMESPACE, check=False)
    assert created.returncode == 0 or "AlreadyExists" in created.stderr, created.stderr
    control_plane.kubectl("apply", "-f", str(base / "clusterrole.yaml"),
                          "-f", str(base / "clusterrolebinding.yaml"))
    token = service_account_token(SYSTEM_NAMESPACE, "ccoperator")
    server = urlsplit(control_plane.server)
    sa = _mounted_dir({"token": token, "ca.crt": control_plane.ca_pem().decode(),
                       "namespace": SYSTEM_NAMESPACE})
    identity = _mounted_dir({"clientId": sim.admin_client_id,
                             "clientSecret": sim.admin_client_secret})
    mounts += [sa, identity]
    liveness = free_port()
    env = {
        # What a pod gets: the kubernetes Service's address (here the loopback API server).
        "KUBERNETES_SERVICE_HOST": str(server.hostname),
        "KUBERNETES_SERVICE_PORT": str(server.port),
        "CCOPERATOR_IDENTITY_URL": sim.base_url,
        "CCOPERATOR_CLIENT_ID_FILE": f"{IDENTITY_DIR}/clientId",
        "CCOPERATOR_CLIENT_SECRET_FILE": f"{IDENTITY_DIR}/clientSecret",
        "CCOPERATOR_NAMESPACES": namespace,
        "CCOPERATOR_NAMESPACE": SYSTEM_NAMESPACE,
        "CCOPERATOR_BIND_ADDRESS": "127.0.0.1",
        "CCOPERATOR_LIVENESS_PORT": str(liveness),
        "CCOPERATOR_METRICS_PORT": str(free_port()),
        "CCOPERATOR_RESYNC_PERIOD": "4s",
        "CCOPERATOR_LOG_LEVEL": "DEBUG",
    }
    argv = ["--network", "host", "--read-only", "--user", "10001",
            "--tmpfs", "/tmp:rw,size=16m,mode=1777",
            f"--volume={sa}:{SA_DIR}:ro", f"--volume={identity}:{IDENTITY_DIR}:ro",
            *(f"--env={k}={v}" for k, v in env.items()), operator_image, "run"]
    started = time.monotonic()
    container = Container(argv, tmp_path / "container.log")
    try:
        def live() -> bool:
            if container.proc.poll() is not None:
                raise AssertionError(f"container exited {container.proc.returncode}:\n"
                                     f"{container.logs()}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"http://127.0.0.1:{liveness}/healthz",
                                 timeout=1).status_code == 200
            return False

        wait_for(live, timeout=60, what="the container's liveness endpoint")
        print(f"container live after {time.monotonic() - started:.1f}s")
        secret = short_lifecycle(kube, sim, sim_api, namespace, "by the container")
    finally:
        container.stop()
    logs = container.logs()
    assert "identity" in logs.lower(), logs  # the operator did log (so no 403 means none)
    assert " 403 " not in logs and "Forbidden" not in logs, logs[-4000:]
    assert secret not in logs
