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
import atexit
import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import build
from .processes import die_with_parent_preexec, free_port

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = [
    "Cluster",
    "ControlPlane",
    "ControlPlaneError",
    "ExternalCluster",
    "KubectlError",
    "RestartUnsupportedError",
    "api_client_from_kubeconfig",
    "write_token_kubeconfig",
]

WORKDIR_PREFIX = "ccoperator-cp-"
_CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SERVICE_CIDR = "10.0.0.0/24"
# The first address of the service range is the in-cluster `kubernetes` Service; a real
# serving cert carries it, so in-cluster style clients would verify too.
SERVICE_IP = "10.0.0.1"

# Metadata for every request, logged once at ResponseComplete (RequestReceived omitted) so a
# benchmark can count writes as events with verb create/update/patch.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


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


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------

def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256 rather than RSA: generating four RSA keys would add ~0.3 s to every start, and
    # kube-apiserver accepts ECDSA for serving, client and service-account signing keys alike.
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _cert_builder(subject: x509.Name, issuer: x509.Name,
                  key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            # Back-dated a little so a slightly skewed clock never sees "not yet valid".
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30)))


def _make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name(common_name)
    cert = (_cert_builder(name, name, key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _issue(ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], subject: x509.Name, *,
           server: bool, sans: Sequence[x509.GeneralName] = ()
           ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = _new_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (_cert_builder(subject, ca_cert.subject, key)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                            key_cert_sign=False, crl_sign=False,
                                            content_commitment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False,
                                            decipher_only=False),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   ca_key.public_key()), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@dataclass(frozen=True)
class _Pki:
    """File paths of the throwaway PKI (all inside the control plane's temp dir)."""

    ca_cert: Path             # serving CA: clients verify the apiserver with it
    serving_cert: Path
    serving_key: Path
    client_ca_cert: Path      # separate CA for client certs, as in a real cluster
    admin_cert: Path          # CN=admin, O=system:masters
    admin_key: Path
    sa_key: Path              # service-account token signing key (private)
    sa_pub: Path

    @classmethod
    def create(cls, folder: Path) -> _Pki:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        pki = cls(*(folder / f for f in ("ca.crt", "apiserver.crt", "apiserver.key",
                                          "client-ca.crt", "admin.crt", "admin.key",
                                          "sa.key", "sa.pub")))
        ca = _make_ca("ccoperator-test-ca")
        client_ca = _make_ca("ccoperator-test-client-ca")
        sans: list[x509.GeneralName] = [
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address(SERVICE_IP)),
            x509.DNSName("localhost"),
            *(x509.DNSName(n) for n in ("kubernetes", "kubernetes.default",
                                         "kubernetes.default.svc",
                                         "kubernetes.default.svc.cluster.local")),
        ]
        serving = _issue(ca, _name("kube-apiserver"), server=True, sans=sans)
        admin = _issue(client_ca, _name("admin", "system:masters"), server=False)
        sa_key = _new_key()
        files = {
            pki.ca_cert: _pem_cert(ca[0]),
            pki.serving_cert: _pem_cert(serving[0]), pki.serving_key: _pem_key(serving[1]),
            pki.client_ca_cert: _pem_cert(client_ca[0]),
            pki.admin_cert: _pem_cert(admin[0]), pki.admin_key: _pem_key(admin[1]),
            pki.sa_key: _pem_key(sa_key),
            pki.sa_pub: sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        }
        for path, data in files.items():
            path.write_bytes(data)
            path.chmod(0o600)
        return pki


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class _PortInUseError(ControlPlaneError):
    pass


@dataclass
class _Component:
    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def spawn(self, cwd: Path, *, die_with_thread: bool = False) -> None:
        # die_with_thread: the forking thread outlives the component (the CRD follower).
        preexec = die_with_parent_preexec(forking_thread_outlives_child=die_with_thread)
        with self.log_path.open("ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=preexec,
            )

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is None:
            return
        tail = self.log_tail()
        if "address already in use" in tail:
            raise _PortInUseError(f"{self.name}: port taken")
        raise ControlPlaneError(f"{self.name} exited with code {self.proc.returncode}; "
                                f"log {self.log_path}:\n{tail}")

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if ready():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{self.name} not ready after {timeout:.0f}s; "
                                        f"log {self.log_path}:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self, grace: float = 0.0) -> None:
        """SIGTERM (if grace) then SIGKILL the whole process group, and reap the leader."""
        proc = self.proc
        if proc is None:
            return
        if grace > 0 and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        # Always, even if the leader is gone: anything it forked shares its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        # Always with a timeout: Popen.wait(None) takes a non-reentrant lock, and this may run
        # from a signal handler that interrupted another wait on the same Popen.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        self.proc = None


# --------------------------------------------------------------------------------------------
# Clean-up machinery (atexit + SIGTERM/SIGHUP), shared by all instances of this process
# --------------------------------------------------------------------------------------------

_LIVE: set[ControlPlane] = set()
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False


def _stop_all() -> None:
    with _LIVE_LOCK:
        planes = list(_LIVE)
    for plane in planes:
        with contextlib.suppress(Exception):
            plane.stop()


def _on_signal(signum: int, frame: FrameType | None, previous: Any) -> None:
    _stop_all()
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        # The default action (terminate) would skip atexit; we cleaned up, now die as asked.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_hooks() -> None:
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_stop_all)
    # SIGINT needs nothing: it raises KeyboardInterrupt, so `with`/finally blocks stop us.
    # signal.signal() only works in the main thread; elsewhere atexit + PDEATHSIG remain.
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(sig)

            def handler(signum: int, frame: FrameType | None, _prev: Any = previous) -> None:
                _on_signal(signum, frame, _prev)

            signal.signal(sig, handler)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_orphans() -> None:
    """Remove temp dirs (and kill components) left by an owner that was SIGKILLed."""
    for folder in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # being created right now, or not ours
        if _pid_alive(owner):
            continue
        for line in _read_lines(folder / "component.pids"):
            with contextlib.suppress(ValueError, OSError):
                pid = int(line)
                # Only if the pid still runs one of *this* folder's components (pid reuse).
                if str(folder) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(
                        errors="replace"):
                    os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


# --------------------------------------------------------------------------------------------
# kubeconfig / kubectl helpers
# --------------------------------------------------------------------------------------------

def _kubeconfig_doc(server: str, user: dict[str, Any], *, ca_file: Path | None,
                    namespace: str = "default", name: str = "ccoperator-test") -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    else:
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name,
                      "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
    }


def _write_yaml(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)


def write_token_kubeconfig(cluster: Cluster, token: str, path: Path, *,
                           namespace: str = "default") -> Path:
    """Write a kubeconfig authenticating with a bearer token (e.g. a ServiceAccount's).

    The CA is written next to it (``<path>.ca.crt``) and referenced by path rather than
    inlined: the Python client copies inline cert data to /tmp files it only removes atexit.
    """
    ca = cluster.ca_pem()
    ca_file: Path | None = None
    if ca is not None:
        ca_file = path.with_name(path.name + ".ca.crt")
        ca_file.parent.mkdir(parents=True, exist_ok=True)
        ca_file.write_bytes(ca)
    _write_yaml(path, _kubeconfig_doc(cluster.server, {"token": token}, ca_file=ca_file,
                                      namespace=namespace))
    return path


def _run_kubectl(kubectl: Path | str, kubeconfig: Path, args: Iterable[str], *, check: bool,
                 input: str | None, timeout: float, cache_dir: Path | None
                 ) -> subprocess.CompletedProcess[str]:
    argv = [str(kubectl), f"--kubeconfig={kubeconfig}"]
    if cache_dir is not None:
        # kubectl caches discovery per host:port under ~/.kube/cache; ports are reused by the
        # next throwaway cluster, whose CRDs would then be missing from a stale cache.
        argv.append(f"--cache-dir={cache_dir}")
    argv += list(args)
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    result = subprocess.run(argv, input=input, capture_output=True, text=True,
                            timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
    return result


def api_client_from_kubeconfig(kubeconfig: Path) -> ApiClient:
    """A ``kubernetes.client.ApiClient`` for any kubeconfig (e.g. a token one); close it."""
    from kubernetes import config  # imported late: heavy, and only some callers need it

    client: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call,unused-ignore]
        config_file=str(kubeconfig), persist_config=False)
    return client


# --------------------------------------------------------------------------------------------
# The control plane
# --------------------------------------------------------------------------------------------

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
    _pki: _Pki = field(init=False)
    _components: dict[str, _Component] = field(init=False, default_factory=dict)
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
        _install_hooks()
        _sweep_orphans()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=self.tmp_root))
        (self.workdir / "owner.pid").write_text(str(os.getpid()))
        self._started = True
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            self._pki = _Pki.create(self.workdir / "pki")
            self._start_etcd()
            self._start_apiserver()
            if self.with_controller_manager:
                self._start_controller_manager()
                if self.gc_follows_crds:
                    threading.Thread(target=self._follow_crds, name="controlplane-crds",
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
        with _LIVE_LOCK:
            _LIVE.discard(self)

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
        return _run_kubectl(self._bins / "kubectl", kubeconfig or self.kubeconfig, args,
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

    def _component(self, name: str) -> _Component:
        if not self._started or name not in self._components:
            raise ControlPlaneError(f"{name} is not running")
        return self._components[name]

    def _record_pids(self) -> None:
        # Read by _sweep_orphans() of a later run if this process gets SIGKILLed.
        (self.workdir / "component.pids").write_text(
            "\n".join(str(pid) for pid in self.pids.values()))

    def _launch(self, name: str, make_argv: Callable[[], list[str]],
                ready: Callable[[], bool]) -> None:
        """Start a component on fresh ports, retrying when another process grabbed one."""
        for attempt in range(4):
            comp = _Component(name, make_argv(), self.workdir / "logs" / f"{name}.log")
            comp.log_path.parent.mkdir(exist_ok=True)
            self._components[name] = comp
            comp.spawn(self.workdir)
            self._record_pids()
            try:
                comp.wait_until(ready, self.startup_timeout)
                return
            except _PortInUseError:
                comp.kill()
                if attempt == 3:
                    raise

    def _start_etcd(self) -> None:
        def argv() -> list[str]:
            client, peer = free_port(), free_port()
            self.etcd_url = f"http://127.0.0.1:{client}"
            peer_url = f"http://127.0.0.1:{peer}"
            return [str(self._bins / "etcd"),
                    "--name=default", f"--data-dir={self.workdir / 'etcd'}",
                    f"--listen-client-urls={self.etcd_url}",
                    f"--advertise-client-urls={self.etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=default={peer_url}",
                    # Throwaway data: skipping fsync is the single biggest speed-up.
                    "--unsafe-no-fsync=true",
                    "--log-level=warn"]

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
        audit_args: list[str] = []
        if self.audit_log:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(AUDIT_POLICY)
            self.audit_log_path = self.workdir / "logs" / "audit.log"
            audit_args = [f"--audit-policy-file={policy}",
                          f"--audit-log-path={self.audit_log_path}",
                          "--audit-log-format=json",
                          # Synchronous, so a benchmark reading the log right after a request
                          # sees it (blocking is the default for the log backend; be explicit).
                          "--audit-log-mode=blocking"]
        self._ssl = ssl.create_default_context(cafile=str(pki.ca_cert))
        self._ssl.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))

        def argv() -> list[str]:
            self._apiserver_port = free_port()
            self.server = f"https://127.0.0.1:{self._apiserver_port}"
            return [str(self._bins / "kube-apiserver"),
                    f"--etcd-servers={self.etcd_url}",
                    "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
                    f"--secure-port={self._apiserver_port}",
                    f"--cert-dir={self.workdir / 'pki'}",
                    f"--tls-cert-file={pki.serving_cert}",
                    f"--tls-private-key-file={pki.serving_key}",
                    f"--client-ca-file={pki.client_ca_cert}",
                    f"--service-account-issuer={self.server}/",
                    f"--service-account-key-file={pki.sa_pub}",
                    f"--service-account-signing-key-file={pki.sa_key}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--authorization-mode=RBAC",
                    # No serviceaccount controller runs, so no `default` ServiceAccount would
                    # ever appear and the plugin would reject every Pod.
                    "--disable-admission-plugins=ServiceAccount",
                    "--allow-privileged=true",
                    # The `kubernetes` Service endpoint would be 127.0.0.1, which Endpoints
                    # validation rejects (loopback) every 10 s; nothing here needs it.
                    "--endpoint-reconciler-type=none",
                    "--shutdown-watch-termination-grace-period=2s",
                    "--profiling=false",
                    *audit_args]

        self._launch("kube-apiserver", argv, self._apiserver_ready)
        _write_yaml(self.kubeconfig_path, _kubeconfig_doc(
            self.server, {"client-certificate": str(pki.admin_cert),
                          "client-key": str(pki.admin_key)}, ca_file=pki.ca_cert))
        self.kubeconfig = self.kubeconfig_path

    @property
    def kubeconfig_path(self) -> Path:
        return self.workdir / "kubeconfig"

    def _get(self, path: str) -> int:
        conn = http.client.HTTPSConnection("127.0.0.1", self._apiserver_port, timeout=2,
                                           context=self._ssl)
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
        pki = self._pki
        argv = [str(self._bins / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                # Only what makes deletion real: ownerReference cascading and namespace
                # content removal. No nodes, pods scheduling or token controllers needed.
                "--controllers=garbagecollector,namespace",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                "--use-service-account-credentials=false",
                "--bind-address=127.0.0.1", "--secure-port=0",
                "--profiling=false"]
        comp = _Component("kube-controller-manager", argv,
                          self.workdir / "logs" / "kube-controller-manager.log")
        self._components[comp.name] = comp
        comp.spawn(self.workdir)
        self._record_pids()
        # Not waited for: it has no serving port (secure-port=0) and its controllers act on
        # watch events once their informers sync; only fail fast if it dies immediately.
        comp.check_alive()

    def _established_crds(self, items: Iterable[Any]) -> set[tuple[str, tuple[str, ...]]]:
        """(name, served versions) of Established CRDs: what the GC's discovery would show."""
        found = set()
        for crd in items:
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True"
                   for c in conditions):
                served = tuple(sorted(v["name"] for v in crd["spec"]["versions"]
                                      if v.get("served")))
                found.add((crd["metadata"]["name"], served))
        return found

    def _list_crds(self) -> tuple[set[tuple[str, tuple[str, ...]]], str]:
        conn = http.client.HTTPSConnection("127.0.0.1", self._apiserver_port, timeout=10,
                                           context=self._ssl)
        try:
            conn.request("GET", _CRD_PATH)
            listing = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        return (self._established_crds(listing.get("items") or []),
                listing["metadata"]["resourceVersion"])

    def _follow_crds(self) -> None:
        """Thread: restart kube-controller-manager whenever a new CRD becomes Established.

        One long watch request (so benchmarks reading the audit log see no polling);
        reconnects across apiserver restarts; ends with stop().
        """
        known: set[tuple[str, tuple[str, ...]]] | None = None
        while not self._stopping.is_set():
            conn = None
            try:
                current, rv = self._list_crds()
                # The first listing is what the just-started KCM discovers by itself.
                if known is not None and not current <= known:
                    self.restart_controller_manager(_die_with_thread=True)
                known = current
                conn = http.client.HTTPSConnection("127.0.0.1", self._apiserver_port,
                                                   timeout=330, context=self._ssl)
                conn.request("GET", f"{_CRD_PATH}?watch=1&resourceVersion={rv}"
                                    "&timeoutSeconds=300")
                for line in conn.getresponse():  # one JSON event per line
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "DELETED":
                        name = (obj.get("metadata") or {}).get("name")
                        known = {k for k in known if k[0] != name}
                    elif self._established_crds([obj]) - known:
                        # Let the rest of a multi-CRD apply land, then restart once for all.
                        time.sleep(0.3)
                        known |= self._list_crds()[0]
                        self.restart_controller_manager(_die_with_thread=True)
            except Exception:  # apiserver restarting or stopping: retry, or end with stop()
                self._stopping.wait(0.5)
            finally:
                if conn is not None:
                    conn.close()


# --------------------------------------------------------------------------------------------
# An existing cluster (CCOPERATOR_TEST_KUBECONFIG)
# --------------------------------------------------------------------------------------------

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
            import base64

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
        return _run_kubectl(self._kubectl, kubeconfig or self.kubeconfig, args, check=check,
                            input=input,
                            timeout=timeout, cache_dir=None)

    def api_client(self) -> ApiClient:
        return api_client_from_kubeconfig(self.kubeconfig)

    def restart_apiserver(self) -> None:
        raise RestartUnsupportedError(
            f"cannot restart the apiserver of an external cluster ({self.server})")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

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


def wait_crd_established(cluster: Cluster, name: str, timeout: float = 60.0) -> None:
    """Wait until CRD `name` is Established.

    Not `kubectl wait --for=condition=Established`: right after the CRD is created its
    status.conditions may still be null, and kubectl then fails at once ("accessor error")
    instead of waiting.
    """
    deadline = time.monotonic() + timeout
    query = '{.status.conditions[?(@.type=="Established")].status}'
    while True:
        result = cluster.kubectl("get", "crd", name, "-o", f"jsonpath={query}", check=False)
        if result.returncode == 0 and result.stdout.strip() == "True":
            return
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"CRD {name} not Established after {timeout:.0f}s: "
                                    f"{result.stdout.strip() or result.stderr.strip()}")
        time.sleep(0.2)
