"""Test helpers: `SimAdmin` (a small sync client of `/_admin`) and `SimProcess` (the simulator
as a real subprocess on loopback). Imported by tests and benchmarks, never by the operator."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from ccoperator_envtest.processes import die_with_parent_preexec

_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


class SimAdmin:
    """The admin API over HTTP (sync httpx). Methods raise `httpx.HTTPStatusError` on errors."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self._http = httpx.Client(base_url=base_url + "/_admin", timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self._http.request(method, path, json=body, params=params or None)
        response.raise_for_status()
        return response.json() if response.content else None

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "/health")["ok"])
        except httpx.HTTPError:
            return False

    def reset(self, bootstrap: bool | dict[str, Any] = True) -> dict[str, Any]:
        """Wipe everything; then the start-up bootstrap (True), none (False) or this document."""
        result: dict[str, Any] = self._call("POST", "/reset", {"Bootstrap": bootstrap})
        return result

    def bootstrap(self, document: dict[str, Any] | str) -> dict[str, Any]:
        """Apply a bootstrap document (a dict, or YAML/JSON text)."""
        if isinstance(document, str):
            response = self._http.post("/bootstrap", content=document.encode())
        else:
            response = self._http.post("/bootstrap", json=document)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def add_fault(
        self,
        route: str = "*",
        *,
        method: str | None = None,
        tenant_id: str | None = None,
        rate: float = 1.0,
        times: int | None = None,
        latency: float = 0.0,
        status: int | None = None,
        retry_after: float | None = None,
        partial207: bool = False,
        drop: bool = False,
    ) -> int:
        """Add a fault rule; answers its id."""
        rule = {
            "Route": route,
            "Method": method,
            "TenantId": tenant_id,
            "Rate": rate,
            "Times": times,
            "LatencySeconds": latency,
            "Status": status,
            "RetryAfterSeconds": retry_after,
            "Partial207": partial207,
            "DropResponse": drop,
        }
        return int(self._call("POST", "/faults", rule)["Id"])

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/faults")
        return result

    def remove_fault(self, fault_id: int) -> None:
        self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def calls(self, since: int = 0) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/calls", since=since)
        return result

    def clear_calls(self) -> None:
        self._call("DELETE", "/calls")

    def counters(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._call("GET", "/counters")
        return result

    def expire_tokens(self) -> int:
        return int(self._call("POST", "/tokens/expire")["Expired"])

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/clock", {"AdvanceSeconds": seconds})
        return result


def tenant_doc(
    tenant_id: str,
    *,
    api_version: str = "unversioned",
    roles: dict[str, str | None] | None = None,
    max_clients: int | None = None,
) -> dict[str, Any]:
    """One `tenants` entry of a bootstrap document, e.g. `tenant_doc("t1", api_version="v1")`.

    `roles`: name -> id (None: generated); the three permission roles, and in v1 the Member
    role, get generated ids when not named."""
    doc: dict[str, Any] = {"id": tenant_id, "apiVersion": api_version, "roles": dict(roles or {})}
    if max_clients is not None:
        doc["maxClients"] = max_clients
    return doc


def bootstrap_doc(
    *tenants: dict[str, Any],
    admin: dict[str, Any] | None = None,
    clients: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A bootstrap document for `SimProcess.reset(...)` / `SimAdmin.bootstrap(...)`:
    `bootstrap_doc(tenant_doc("a"), tenant_doc("b", api_version="v1"))`. The administrator
    (default `ccoperator-admin` in the first tenant) holds Account Administrator in all."""
    doc: dict[str, Any] = {"tenants": list(tenants)}
    if admin is not None:
        doc["admin"] = admin
    if clients:
        doc["clients"] = clients
    return doc


_LIVE: weakref.WeakSet[SimProcess] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_LIVE):
        proc.kill()


class SimProcess:
    """`python -m identity_sim --port 0 --ready-file ...` as a subprocess in its own process
    group, killed on exit (also when the test fails, and when this interpreter exits).

    After `start()`: `base_url`, `token_url`, `port`, `pid`, `admin_client_id`,
    `admin_client_secret`, `admin_tenant_id`, `tenants` (tenant -> role name -> role id),
    `api_versions` (tenant -> "unversioned" or "v1"), `roles` (the admin tenant's),
    `v1_tenant_id` and `v1_roles` (the first v1 tenant: `demo-tenant-v1` by default),
    `ready` (the whole ready-file document), `admin` (SimAdmin).

    `secrets_on_disk=False`: nothing it writes holds a secret for longer than the start-up
    (the ready file is deleted once read, the announcement of the secrets is not logged).
    """

    def __init__(
        self,
        *,
        state: str | Path | None = None,
        bootstrap: str | Path | None = None,
        admin_secret: str | None = None,
        token_ttl: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        workdir: str | Path | None = None,
        cpus: str | None = None,
        extra_args: list[str] | None = None,
        startup_timeout: float = 30.0,
        secrets_on_disk: bool = True,
    ) -> None:
        self.state = Path(state) if state is not None else None
        self.bootstrap_file = Path(bootstrap) if bootstrap is not None else None
        # fixed, so credentials survive reset and restart
        self.admin_secret = admin_secret or secrets.token_urlsafe(24)
        self.token_ttl = token_ttl
        self.host = host
        self.port = port
        self.cpus = cpus  # e.g. "0": pin with taskset when available
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        # False: the ready file is deleted as soon as it is read and the announcement (which
        # prints the secrets) is not logged, so no file holds a secret for long (the demo).
        self.secrets_on_disk = secrets_on_disk
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="identity_sim."))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ready_file = self.workdir / "ready.json"
        self.log_path = self.workdir / "identity_sim.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: SimAdmin | None = None
        self.ready: dict[str, Any] = {}
        self.base_url = ""
        self.token_url = ""
        self.admin_client_id = ""
        self.admin_client_secret = ""
        self.admin_tenant_id = ""
        self.tenants: dict[str, dict[str, str]] = {}
        self.api_versions: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "identity_sim",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--ready-file",
            str(self.ready_file),
            "--parent-pid",
            str(os.getpid()),
            "--log-level",
            "warning",
        ]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        if self.bootstrap_file is not None:
            cmd += ["--bootstrap", str(self.bootstrap_file)]
        if self.token_ttl is not None:
            cmd += ["--token-ttl", str(self.token_ttl)]
        cmd += self.extra_args
        if self.cpus is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", self.cpus, *cmd]
        return cmd

    def start(self) -> SimProcess:
        if self.running:
            return self
        self.ready_file.unlink(missing_ok=True)
        env = dict(os.environ)
        env["IDENTITY_SIM_ADMIN_SECRET"] = self.admin_secret  # not on the command line
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
        )
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command(),
                # stdout carries the announcement (secrets included), stderr the logging.
                stdout=log if self.secrets_on_disk else subprocess.DEVNULL,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # own process group: kill() takes all of it
                # Also dies when this process is SIGKILLed (--parent-pid polls as well).
                preexec_fn=die_with_parent_preexec(),
            )
        _LIVE.add(self)
        deadline = time.monotonic() + self.startup_timeout
        while not self.ready_file.exists():
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"identity_sim exited with {self._proc.returncode}:\n{self.log()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"identity_sim did not become ready:\n{self.log()}")
            time.sleep(0.02)
        self._apply_ready(json.loads(self.ready_file.read_text()))
        if not self.secrets_on_disk:
            self.ready_file.unlink()
        return self

    def _apply_ready(self, ready: dict[str, Any]) -> None:
        self.ready = ready
        self.base_url = ready["base_url"]
        self.token_url = ready["token_url"]
        self.port = int(ready["port"])  # a restart keeps it
        self.admin_client_id = ready["admin_client_id"]
        self.admin_client_secret = ready["admin_client_secret"]
        self.admin_tenant_id = ready["admin_tenant_id"]
        self.tenants = {t: dict(v["roles"]) for t, v in ready["tenants"].items()}
        self.api_versions = {
            t: v.get("api_version", "unversioned") for t, v in ready["tenants"].items()
        }
        if self._admin is not None and self._admin.base_url != self.base_url:
            self._admin.close()
            self._admin = None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group, right now (a crash)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self, *, hard: bool = False) -> SimProcess:
        """Stop (`hard`: kill -9) and start again on the same port with the same `--state`."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        _LIVE.discard(self)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> SimProcess:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- state -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def admin(self) -> SimAdmin:
        if self._admin is None:
            self._admin = SimAdmin(self.base_url)
        return self._admin

    @property
    def roles(self) -> dict[str, str]:
        """Role name -> id in the administrator's tenant."""
        return self.tenants.get(self.admin_tenant_id, {})

    def tenant_ids(self, api_version: str) -> list[str]:
        """The bootstrapped tenants that speak `api_version`, in bootstrap order."""
        return [t for t in self.tenants if self.api_versions.get(t) == api_version]

    @property
    def v1_tenant_id(self) -> str:
        """The first v1 tenant (`demo-tenant-v1` in the default bootstrap), "" when none."""
        return next(iter(self.tenant_ids("v1")), "")

    @property
    def v1_roles(self) -> dict[str, str]:
        """Role name -> id in the first v1 tenant."""
        return self.tenants.get(self.v1_tenant_id, {})

    def reset(self, bootstrap: bool | dict[str, Any] = True) -> dict[str, Any]:
        """`admin.reset` and take the answer's credentials as this handle's."""
        result = self.admin.reset(bootstrap)
        self.apply_bootstrap_result(result)
        return result

    def apply_bootstrap_result(self, result: dict[str, Any]) -> None:
        self.admin_client_id = result.get("AdminClientId") or ""
        self.admin_client_secret = result.get("AdminClientSecret") or ""
        self.admin_tenant_id = result.get("AdminTenantId") or ""
        self.tenants = {t: dict(v["Roles"]) for t, v in result.get("Tenants", {}).items()}
        self.api_versions = {
            t: v.get("ApiVersion", "unversioned") for t, v in result.get("Tenants", {}).items()
        }

    def token(self, client_id: str | None = None, client_secret: str | None = None) -> str:
        """An access token (the administrator's unless told otherwise)."""
        response = httpx.post(
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id or self.admin_client_id,
                "client_secret": client_secret or self.admin_client_secret,
            },
            timeout=10.0,
            trust_env=False,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def log(self, tail: int = 4000) -> str:
        """The last `tail` characters of the simulator's stdout/stderr."""
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""
