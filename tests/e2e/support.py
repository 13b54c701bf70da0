"""Helpers for end-to-end tests: the operator as its own process, and waiting on resources."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from ccoperator.api.marks import derived_client_id
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

REPO = Path(__file__).resolve().parents[2]
GROUP, VERSION, PLURAL = "identity.ccoperator.io", "v1alpha1", "clientcredentialclients"
T = TypeVar("T")
# Every operator process's CCOPERATOR_CLUSTER_NAME unless a test sets another: owner keys
# are e2e/<namespace>/<name>, and so are the default client ids derived from them.
CLUSTER_NAME = "e2e"


def default_client_id(namespace: str, name: str, cluster: str = CLUSTER_NAME) -> str:
    """The client id the operator derives for a resource without spec.clientId."""
    return derived_client_id(f"{cluster}/{namespace}/{name}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OperatorProcess:
    """`ccoperator run` as a child process (own process group), logs to a file."""

    def __init__(self, *, kubeconfig: Path, identity_url: str, client_id: str,
                 client_secret: str, namespaces: list[str], env: dict[str, str] | None = None
                 ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="ccoperator-e2e."))
        self.log_path = self.workdir / "operator.log"
        self.liveness_port = free_port()
        self.metrics_port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CCOPERATOR_")},
            "KUBECONFIG": str(kubeconfig),
            "CCOPERATOR_IDENTITY_URL": identity_url,
            "CCOPERATOR_CLIENT_ID": client_id,
            "CCOPERATOR_CLIENT_SECRET": client_secret,
            "CCOPERATOR_NAMESPACES": ",".join(namespaces),
            "CCOPERATOR_BIND_ADDRESS": "127.0.0.1",
            "CCOPERATOR_LIVENESS_PORT": str(self.liveness_port),
            "CCOPERATOR_METRICS_PORT": str(self.metrics_port),
            "CCOPERATOR_RESYNC_PERIOD": "600s",
            "CCOPERATOR_CLUSTER_NAME": CLUSTER_NAME,
            "CCOPERATOR_ROTATION_GRACE_PERIOD": "1h",
            "CCOPERATOR_LOG_LEVEL": "DEBUG",
            "CCOPERATOR_IDENTITY_TIMEOUT": "3",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **env: str) -> OperatorProcess:
        assert self.proc is None, "already running"
        self.env.update(env)
        log = self.log_path.open("ab")
        log.write(f"\n===== start #{self.starts + 1} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ccoperator.cli", "run"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        wait_for(self._live, timeout=60, what="operator liveness endpoint")
        return self

    def _live(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.liveness_port}/healthz",
                             timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a Prometheus counter's samples matching `labels` (0 when absent)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5.0).text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            series, _, value = line.rpartition(" ")
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful exit (as an OOM kill or node loss)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def restart(self, **env: str) -> None:
        self.kill()
        self.start(**env)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            for path in self.workdir.iterdir():
                path.unlink()
            self.workdir.rmdir()


def wait_for(check: Callable[[], T | None], *, timeout: float = 60, interval: float = 0.2,
             what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Kube:
    """Thin synchronous access to what the tests look at."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self.custom = k8s.CustomObjectsApi(api)
        self.core = k8s.CoreV1Api(api)

    def create_ccc(self, namespace: str, name: str, spec: dict[str, Any],
                   annotations: dict[str, str] | None = None) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ClientCredentialClient",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": spec,
        }
        result: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body)
        return result

    def get_ccc(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name)
            return result
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch_ccc(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name,
                                                   patch)

    def delete_ccc(self, namespace: str, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def secret(self, namespace: str, name: str) -> k8s.V1Secret | None:
        try:
            return self.core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        import base64

        secret = self.secret(namespace, name)
        if secret is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def events(self, namespace: str) -> list[k8s.CoreV1Event]:
        return list(self.core.list_namespaced_event(namespace).items)

    def wait_event(self, namespace: str, reason: str, timeout: float = 10) -> k8s.CoreV1Event:
        """The first Event with this reason. Events are posted after the pass that caused
        them (controller/events.py), so one may land a moment after the status it explains."""
        found: k8s.CoreV1Event = wait_for(
            lambda: next((e for e in self.events(namespace) if e.reason == reason), None),
            timeout=timeout, what=f"a {reason} event in {namespace}")
        return found

    def ready(self, namespace: str, name: str) -> dict[str, Any] | None:
        obj = self.get_ccc(namespace, name)
        if obj is None:
            return None
        cond = ready_condition(obj)
        return obj if cond and cond.get("status") == "True" else None

    def wait_ready(self, namespace: str, name: str, timeout: float = 60) -> dict[str, Any]:
        return wait_for(lambda: self.ready(namespace, name), timeout=timeout,
                        what=f"{namespace}/{name} Ready")

    def wait_reason(self, namespace: str, name: str, reason: str,
                    timeout: float = 60) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            obj = self.get_ccc(namespace, name)
            cond = ready_condition(obj) if obj else None
            return obj if cond and cond.get("reason") == reason else None
        return wait_for(check, timeout=timeout, what=f"{namespace}/{name} reason {reason}")

    def wait_gone(self, namespace: str, name: str, timeout: float = 60) -> None:
        wait_for(lambda: self.get_ccc(namespace, name) is None, timeout=timeout,
                 what=f"{namespace}/{name} deleted")


def ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def token_status(token_url: str, client_id: str, client_secret: str) -> int:
    """Ask the token endpoint with these credentials; 200 means they work."""
    response = httpx.post(token_url, data={
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }, timeout=10)
    return response.status_code


def cli_env(control_plane: Any, sim: Any, operator_namespace: str | None,
            kubeconfig: Path | None = None, **over: str) -> dict[str, str]:
    """The environment an operator has, for running a ccoperator command as a process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCOPERATOR_")}
    env.update(KUBECONFIG=str(kubeconfig or control_plane.kubeconfig),
               CCOPERATOR_IDENTITY_URL=sim.base_url,
               CCOPERATOR_CLIENT_ID=sim.admin_client_id,
               CCOPERATOR_CLIENT_SECRET=sim.admin_client_secret)
    if operator_namespace:
        env["CCOPERATOR_NAMESPACE"] = operator_namespace
    env.update(over)
    return env


def run_cli(env: dict[str, str], *args: str, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """`python -m ccoperator.cli ARGS` as a process (stdin: `input`, else nothing)."""
    return subprocess.run([sys.executable, "-m", "ccoperator.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120, input=input,
                          stdin=subprocess.DEVNULL if input is None else None, check=False)


def identity_writes(sim: Any) -> list[tuple[str, str, str | None]]:
    """Every call the simulator served but reads and token requests."""
    return [(c["Method"], c["Route"], c["ClientId"]) for c in sim.admin.calls()
            if c["Method"] != "GET" and c["Route"] != "token"]
