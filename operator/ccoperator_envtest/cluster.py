"""A real, throwaway Kubernetes control plane on loopback: etcd + kube-apiserver (+ KCM).

Used by the pytest fixtures, the ``ccoperator demo`` command and the benchmarks, so this
module must not import pytest. The binaries come from :mod:`ccoperator_envtest.build`.

    with ControlPlane() as cp:                  # or cp = ControlPlane(); cp.start(); cp.stop()
        cp.kubectl("get", "namespaces")
        with cp.api_client() as api: ...

By hand (builds the binaries first if they are missing, stays up until Ctrl-C):

    python -m ccoperator_envtest.cluster up [--no-controller-manager] [--audit-log]

Nothing outlives the owner: every component runs in its own session (so its whole process
group can be killed), ``stop()`` runs from ``with``, atexit and SIGTERM/SIGHUP, components
started from the main thread also get PR_SET_PDEATHSIG=SIGKILL (covers SIGKILL of the owner),
and temp dirs orphaned by a killed owner are swept by the next ``start()``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import build
from .base import Cluster, ControlPlaneError, KubectlError, RestartUnsupportedError
from .components import WORKDIR_PREFIX, Component, PortInUseError, register, sweep_orphans
from .components import unregister as unregister_plane
from .crds import CrdFollower, wait_crd_established
from .external import ExternalCluster
from .flags import (
    AUDIT_POLICY,
    apiserver_argv,
    audit_argv,
    controller_manager_argv,
    etcd_argv,
)
from .kubeconfig import (
    api_client_from_kubeconfig,
    kubeconfig_doc,
    run_kubectl,
    write_token_kubeconfig,
    write_yaml,
)
from .pki import Pki
from .processes import free_port

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# The interface and the helpers the callers import from here (the module they have always
# imported); each lives in the module of its job.
__all__ = [
    "Cluster",
    "ControlPlane",
    "ControlPlaneError",
    "ExternalCluster",
    "KubectlError",
    "RestartUnsupportedError",
    "api_client_from_kubeconfig",
    "wait_crd_established",
    "write_token_kubeconfig",
]


@dataclass(eq=False)
class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) on free loopback ports.

    Attributes after ``start()``: ``kubeconfig``, ``server``, ``workdir``, ``log_paths``
    (component -> log file), ``audit_log_path`` (if ``audit_log``), ``etcd_url``, ``pids``,
    ``startup_seconds``, ``ca_file``. See docs/controlplane.md.
    """

    with_controller_manager: bool = True
    audit_log: bool = False
    bin_dir: Path | None = None          # default: build.bin_dir() (the version cache)
    startup_timeout: float = 60.0
    # The garbage collector rediscovers resource types only every 30 s (hard-coded in
    # kube-controller-manager), so objects owned by a custom resource whose CRD appeared after
    # it started are collected up to ~40 s late. When True, a watcher thread restarts
    # kube-controller-manager (~1 s) each time a new CRD (or served version) is Established.
    gc_follows_crds: bool = True
    # Copy the component logs here on stop() (the temp dir itself is always removed).
    keep_logs: Path | None = None
    # Where the temp dir is made (default: the system's). The demo puts it inside its own, so
    # one guardian removes all of it even after the demo is SIGKILLed.
    tmp_root: Path | None = None

    workdir: Path = field(init=False)
    kubeconfig: Path = field(init=False)
    server: str = field(init=False)
    etcd_url: str = field(init=False)
    audit_log_path: Path | None = field(init=False, default=None)
    startup_seconds: float | None = field(init=False, default=None)
    _pki: Pki = field(init=False)
    _components: dict[str, Component] = field(init=False, default_factory=dict)
    _started: bool = field(init=False, default=False)
    # Serialises component changes between the caller, the CRD follower thread and stop()
    # from a signal handler (re-entrant for the latter).
    _lock: threading.RLock = field(init=False, default_factory=threading.RLock)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)

    supports_restart = True

    # ---- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> ControlPlane:
        if self._started:
            raise ControlPlaneError("already started")
        bins = self.bin_dir or build.bin_dir()
        missing = [n for n in build.all_binaries() if not os.access(bins / n, os.X_OK)]
        if missing:
            raise ControlPlaneError(f"missing binaries {missing} in {bins}; "
                                    "run `python -m ccoperator_envtest.build`")
        self._bins = bins
        # A stopped instance may be started again: fresh components, follower re-armed.
        self._components = {}
        self._stopping.clear()
        started = time.monotonic()
        sweep_orphans()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=self.tmp_root))
        (self.workdir / "owner.pid").write_text(str(os.getpid()))
        self._started = True
        register(self)
        try:
            self._pki = Pki.create(self.workdir / "pki")
            self._start_etcd()
            self._start_apiserver()
            if self.with_controller_manager:
                self._start_controller_manager()
                if self.gc_follows_crds:
                    follower = CrdFollower(self._connect, self._restart_for_new_crds,
                                           self._stopping)
                    threading.Thread(target=follower.run, name="controlplane-crds",
                                     daemon=True).start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Kill components in reverse order (whole groups) and remove the temp dir. Idempotent.

        SIGKILL straight away: all state is thrown away, so a graceful shutdown buys nothing.
        """
        if not self._started:
            return
        self._stopping.set()
        with self._lock:
            for name in reversed(list(self._components)):
                self._components[name].kill()
        if self.keep_logs is not None:
            with contextlib.suppress(OSError):
                shutil.copytree(self.workdir / "logs", self.keep_logs / self.workdir.name,
                                dirs_exist_ok=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self._started = False
        unregister_plane(self)

    def restart_apiserver(self, grace: float = 15.0) -> None:
        """Gracefully stop kube-apiserver and start it again on the same port; etcd keeps data."""
        with self._lock:
            comp = self._component("kube-apiserver")
            comp.kill(grace=grace)
            comp.spawn(self.workdir)
            self._record_pids()
        comp.wait_until(self._apiserver_ready, self.startup_timeout)

    def restart_controller_manager(self, *, _die_with_thread: bool = False) -> None:
        """Restart kube-controller-manager, e.g. so its garbage collector sees new CRDs now.

        SIGKILL is fine: it keeps no state; on start it re-lists everything and collects
        whatever became garbage while it was down.
        """
        with self._lock:
            if self._stopping.is_set():
                return
            comp = self._component("kube-controller-manager")
            comp.kill()
            comp.spawn(self.workdir, die_with_thread=_die_with_thread)
            self._record_pids()

    # ---- public helpers -------------------------------------------------------------------

    @property
    def log_paths(self) -> dict[str, Path]:
        return {name: c.log_path for name, c in self._components.items()}

    @property
    def pids(self) -> dict[str, int]:
        return {name: c.proc.pid for name, c in self._components.items() if c.proc is not None}

    @property
    def ca_file(self) -> Path:
        return self._pki.ca_cert

    def ca_pem(self) -> bytes:
        return self._pki.ca_cert.read_bytes()

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60.0, kubeconfig: Path | None = None
                ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl; as admin (system:masters) unless another kubeconfig is given.

        Output is captured as text; check=True raises KubectlError (stderr in its message).
        """
        return run_kubectl(self._bins / "kubectl", kubeconfig or self.kubeconfig, args,
                            check=check,
                            input=input, timeout=timeout,
                            cache_dir=self.workdir / "kubectl-cache")

    def api_client(self) -> ApiClient:
        """A new admin ``kubernetes.client.ApiClient``; close it (it is a context manager)."""
        return api_client_from_kubeconfig(self.kubeconfig)

    def audit_events(self) -> list[dict[str, Any]]:
        """Parsed audit log events so far (one per request: stage ResponseComplete, or
        ResponseStarted + ResponseComplete for watches)."""
        if self.audit_log_path is None:
            raise ControlPlaneError("started without audit_log=True")
        events: list[dict[str, Any]] = []
        with contextlib.suppress(FileNotFoundError), self.audit_log_path.open() as f:
            for line in f:
                with contextlib.suppress(json.JSONDecodeError):  # a half-written last line
                    events.append(json.loads(line))
        return events

    # ---- components -----------------------------------------------------------------------

    def _component(self, name: str) -> Component:
        if not self._started or name not in self._components:
            raise ControlPlaneError(f"{name} is not running")
        return self._components[name]

    def _record_pids(self) -> None:
        # Read by sweep_orphans() of a later run if this process gets SIGKILLed.
        (self.workdir / "component.pids").write_text(
            "\n".join(str(pid) for pid in self.pids.values()))

    def _launch(self, name: str, make_argv: Callable[[], list[str]],
                ready: Callable[[], bool]) -> None:
        """Start a component on fresh ports, retrying when another process grabbed one."""
        for attempt in range(4):
            comp = Component(name, make_argv(), self.workdir / "logs" / f"{name}.log")
            comp.log_path.parent.mkdir(exist_ok=True)
            self._components[name] = comp
            comp.spawn(self.workdir)
            self._record_pids()
            try:
                comp.wait_until(ready, self.startup_timeout)
                return
            except PortInUseError:
                comp.kill()
                if attempt == 3:
                    raise

    def _start_etcd(self) -> None:
        def argv() -> list[str]:
            self.etcd_url = f"http://127.0.0.1:{free_port()}"
            peer_url = f"http://127.0.0.1:{free_port()}"
            return etcd_argv(self._bins, self.workdir, self.etcd_url, peer_url)

        self._launch("etcd", argv, self._etcd_ready)

    def _etcd_ready(self) -> bool:
        host, port = self.etcd_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=1)
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            return resp.status == 200 and b'"true"' in resp.read()
        except OSError:
            return False
        finally:
            conn.close()

    def _start_apiserver(self) -> None:
        pki = self._pki
        extra: list[str] = []
        if self.audit_log:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(AUDIT_POLICY)
            self.audit_log_path = self.workdir / "logs" / "audit.log"
            extra = audit_argv(policy, self.audit_log_path)
        self._ssl = ssl.create_default_context(cafile=str(pki.ca_cert))
        self._ssl.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))

        def argv() -> list[str]:
            self._apiserver_port = free_port()
            self.server = f"https://127.0.0.1:{self._apiserver_port}"
            return apiserver_argv(self._bins, self.workdir, pki, etcd_url=self.etcd_url,
                                  port=self._apiserver_port, server=self.server, extra=extra)

        self._launch("kube-apiserver", argv, self._apiserver_ready)
        write_yaml(self.kubeconfig_path, kubeconfig_doc(
            self.server, {"client-certificate": str(pki.admin_cert),
                          "client-key": str(pki.admin_key)}, ca_file=pki.ca_cert))
        self.kubeconfig = self.kubeconfig_path

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    def _connect(self, timeout: float) -> http.client.HTTPSConnection:
        """A connection to kube-apiserver as admin (not yet opened)."""
        return http.client.HTTPSConnection("127.0.0.1", self._apiserver_port, timeout=timeout,
                                           context=self._ssl)

    def _get(self, path: str) -> int:
        conn = self._connect(2)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, ssl.SSLError):
            return 0
        finally:
            conn.close()

    def _apiserver_ready(self) -> bool:
        # /readyz covers etcd, RBAC bootstrap roles, CRD informers...; the `default` namespace
        # is created by a controller loop right after, and tests create things in it at once.
        return self._get("/readyz") == 200 and self._get("/api/v1/namespaces/default") == 200

    def _start_controller_manager(self) -> None:
        comp = Component("kube-controller-manager",
                         controller_manager_argv(self._bins, self.kubeconfig, self._pki),
                         self.workdir / "logs" / "kube-controller-manager.log")
        self._components[comp.name] = comp
        comp.spawn(self.workdir)
        self._record_pids()
        # Not waited for: it has no serving port (secure-port=0) and its controllers act on
        # watch events once their informers sync; only fail fast if it dies immediately.
        comp.check_alive()

    def _restart_for_new_crds(self) -> None:
        # From the follower's thread, which lives as long as the control plane: the restarted
        # component may take its parent-death signal from it.
        self.restart_controller_manager(_die_with_thread=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ccoperator_envtest.cluster",
                                     description="Run a throwaway control plane until Ctrl-C.")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build if needed, start, print the kubeconfig, wait")
    up.add_argument("--no-controller-manager", action="store_true")
    up.add_argument("--audit-log", action="store_true")
    args = parser.parse_args(argv)

    build.ensure_built()
    with ControlPlane(with_controller_manager=not args.no_controller_manager,
                      audit_log=args.audit_log) as cp:
        print(f"control plane up in {cp.startup_seconds:.1f}s at {cp.server}")
        print(f"logs:       {cp.workdir / 'logs'}")
        if cp.audit_log_path:
            print(f"audit log:  {cp.audit_log_path}")
        print(f"export KUBECONFIG={cp.kubeconfig}")
        print("Ctrl-C to stop (everything, including the temp dir, is removed)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping")


if __name__ == "__main__":
    main()
