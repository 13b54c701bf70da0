"""Shared machinery of the benchmarks: the real control plane (with an audit log), the identity
simulator bootstrapped with three tenants, ServiceAccounts for the processes under test, fast
bulk Kubernetes calls, a watcher that timestamps Ready, and meters over the audit log, the
simulator's call log and the operator's Prometheus metrics.

Everything talks over loopback. Nothing here imports pytest; the fault suite reuses it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
from ccoperator_envtest.cluster import ControlPlane, wait_crd_established, write_token_kubeconfig
from identity_sim.testing import SimProcess

from tests.bench.floor import (  # the floor stays light: constants and http_params live there
    CCC_PATH,
    FLOOR_MANAGED_BY,
    GROUP,
    MANAGED_BY,
    PLURAL,
    VERSION,
    http_params,
)
from tests.crd_fixtures import CRD_NAMES
from tests.e2e.support import REPO, OperatorProcess, free_port

TENANTS = ("tenant-a", "tenant-b", "tenant-c")
MEMBER_ROLE = "Tenant Member"
SA_NAMESPACE = "ccoperator-system"
OPERATOR_SA = "ccoperator"
FLOOR_SA = "ccoperator-floor"
NOOP_SA = "ccoperator-noop"
WRITE_VERBS = ("create", "update", "patch", "delete")
HTTP_VERB = {"create": "POST", "update": "PUT", "patch": "PATCH", "delete": "DELETE"}
# Routes that do not touch a client: the token grant and discovery. Reported apart.
AUTH_ROUTES = frozenset({"token", "discovery"})
IDENTITY_READS = frozenset({"clients.get", "clients.list", "secrets.list", "secrets.get"})

Key = tuple[str, str]  # (namespace, name)


def sa_user(name: str) -> str:
    return f"system:serviceaccount:{SA_NAMESPACE}:{name}"


def bootstrap_document() -> dict[str, Any]:
    """Three tenants; the administrator client holds Account Administrator in each."""
    return {
        "tenants": [
            {"id": t, "roles": {"Account Administrator": None, MEMBER_ROLE: None}}
            for t in TENANTS
        ],
        "admin": {"tenant": TENANTS[0], "clientId": "ccoperator-admin"},
    }


# ------------------------------------------------------------------------------- Kubernetes

def ccc_body(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClientCredentialClient",
            "metadata": {"name": name}, "spec": spec}


class KubeAdmin:
    """Admin-side Kubernetes calls, sync and in bulk (async, bounded), over httpx."""

    def __init__(self, kubeconfig: Path, concurrency: int = 32) -> None:
        self.params = http_params(kubeconfig)
        self.concurrency = concurrency
        self.http = httpx.Client(timeout=60, **self.params)

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response, ok: Iterable[int] = ()) -> httpx.Response:
        if response.status_code >= 400 and response.status_code not in ok:
            raise RuntimeError(f"{response.request.method} {response.request.url.path}: "
                               f"{response.status_code} {response.text[:300]}")
        return response

    def ensure_namespace(self, name: str) -> None:
        self._check(self.http.post("/api/v1/namespaces", json={
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}), ok=(409,))

    def create_ccc(self, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        r = self._check(self.http.post(f"{CCC_PATH}/namespaces/{namespace}/{PLURAL}",
                                       json=ccc_body(name, spec)))
        result: dict[str, Any] = r.json()
        return result

    def get_ccc(self, namespace: str, name: str) -> dict[str, Any] | None:
        r = self._check(self.http.get(f"{CCC_PATH}/namespaces/{namespace}/{PLURAL}/{name}"),
                        ok=(404,))
        return None if r.status_code == 404 else dict(r.json())

    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        r = self._check(self.http.get(f"/api/v1/namespaces/{namespace}/secrets/{name}"),
                        ok=(404,))
        if r.status_code == 404:
            return None
        return {k: base64.b64decode(v).decode()
                for k, v in (r.json().get("data") or {}).items()}

    def list_cccs(self, namespace: str | None = None) -> list[dict[str, Any]]:
        path = (f"{CCC_PATH}/namespaces/{namespace}/{PLURAL}" if namespace
                else f"{CCC_PATH}/{PLURAL}")
        return self._list(path)

    def list_secrets(self, selector: str, namespace: str | None = None) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{namespace}/secrets" if namespace else "/api/v1/secrets"
        return self._list(path, labelSelector=selector)

    def _list(self, path: str, **params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cont = ""
        while True:
            query = {"limit": "500", **params, **({"continue": cont} if cont else {})}
            body = self._check(self.http.get(path, params=query)).json()
            items.extend(body.get("items") or [])
            cont = (body.get("metadata") or {}).get("continue") or ""
            if not cont:
                return items

    def _bulk(self, calls: list[tuple[str, str, dict[str, Any] | None, dict[str, str]]],
              ok: Iterable[int] = ()) -> list[float]:
        """Run (method, path, json, headers) calls, `concurrency` at a time; answers the
        monotonic time each one was sent."""
        accepted = set(ok)
        sent = [0.0] * len(calls)

        async def run() -> None:
            # aiohttp, not httpx: its async pool costs several times less CPU per request,
            # and the load generator must not be what limits a burst.
            sem = asyncio.Semaphore(self.concurrency)
            connector = aiohttp.TCPConnector(limit=self.concurrency, ssl=self.params["verify"])
            async with aiohttp.ClientSession(base_url=self.params["base_url"],
                                             headers=self.params["headers"],
                                             connector=connector) as client:
                async def one(i: int, method: str, path: str, body: dict[str, Any] | None,
                              headers: dict[str, str]) -> None:
                    async with sem:
                        sent[i] = time.monotonic()
                        data = json.dumps(body) if body is not None else None
                        hdrs = {"Content-Type": "application/json", **headers}
                        async with client.request(method, path, data=data,
                                                  headers=hdrs) as r:
                            text = await r.text()
                            if r.status >= 400 and r.status not in accepted:
                                raise RuntimeError(f"{method} {path}: {r.status} {text[:300]}")
                await asyncio.gather(*(one(i, *c) for i, c in enumerate(calls)))

        asyncio.run(run())
        return sent

    def create_cccs(self, items: list[tuple[str, str, dict[str, Any]]]) -> list[float]:
        return self._bulk([("POST", f"{CCC_PATH}/namespaces/{ns}/{PLURAL}",
                            ccc_body(name, spec), {}) for ns, name, spec in items])

    def patch_cccs(self, keys: list[Key], patch: dict[str, Any]) -> list[float]:
        headers = {"Content-Type": "application/merge-patch+json"}
        return self._bulk([("PATCH", f"{CCC_PATH}/namespaces/{ns}/{PLURAL}/{name}", patch,
                            headers) for ns, name in keys])

    def delete_cccs(self, keys: list[Key]) -> list[float]:
        return self._bulk([("DELETE", f"{CCC_PATH}/namespaces/{ns}/{PLURAL}/{name}", None, {})
                           for ns, name in keys], ok=(404,))

    def remove_finalizers(self, keys: list[Key]) -> None:
        headers = {"Content-Type": "application/merge-patch+json"}
        self._bulk([("PATCH", f"{CCC_PATH}/namespaces/{ns}/{PLURAL}/{name}",
                     {"metadata": {"finalizers": None}}, headers) for ns, name in keys],
                   ok=(404,))


def ready_condition(obj: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def is_ready(obj: dict[str, Any]) -> bool:
    cond = ready_condition(obj)
    return bool(cond and cond.get("status") == "True")


class Watcher:
    """Cluster-wide watches of the resources and the managed Secrets, in threads.

    Records when each resource was first seen Ready=True and each Secret first seen, in
    this process's monotonic clock, so `done_at` (Ready with its Secret present) can be set
    against the moment the resource was created.
    """

    def __init__(self, kubeconfig: Path) -> None:
        self.params = http_params(kubeconfig)
        self.cond = threading.Condition()
        self.ready_at: dict[Key, float] = {}
        self.secret_at: dict[Key, float] = {}
        self.objects: dict[Key, dict[str, Any]] = {}  # summary of the latest state
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reconnects = 0

    def start(self) -> Watcher:
        for path, params, handler in (
            (f"{CCC_PATH}/{PLURAL}", {}, self._on_ccc),
            ("/api/v1/secrets",
             {"labelSelector": f"{MANAGED_BY} in (ccoperator,{FLOOR_MANAGED_BY})"},
             self._on_secret),
        ):
            thread = threading.Thread(target=self._loop, args=(path, params, handler),
                                      daemon=True, name=f"watch {path}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self, path: str, params: dict[str, str], handler: Any) -> None:
        while not self._stop.is_set():
            try:
                with httpx.Client(timeout=httpx.Timeout(30, read=400), **self.params) as http:
                    listing = http.get(path, params=params)
                    listing.raise_for_status()
                    body = listing.json()
                    now = time.monotonic()
                    for item in body.get("items") or []:
                        handler("ADDED", item, now)
                    rv = body["metadata"]["resourceVersion"]
                    query = {**params, "watch": "1", "resourceVersion": rv,
                             "allowWatchBookmarks": "true", "timeoutSeconds": "300"}
                    with http.stream("GET", path, params=query) as stream:
                        for line in stream.iter_lines():
                            if self._stop.is_set():
                                return
                            if not line:
                                continue
                            event = json.loads(line)
                            if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                                handler(event["type"], event["object"], time.monotonic())
            except Exception:  # apiserver restarting, watch expired (410): list again
                self.reconnects += 1
                self._stop.wait(0.5)

    def _on_ccc(self, kind: str, obj: dict[str, Any], now: float) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        with self.cond:
            if kind == "DELETED":
                self.objects.pop(key, None)
                self.ready_at.pop(key, None)
            else:
                status = obj.get("status") or {}
                cond = ready_condition(obj) or {}
                self.objects[key] = {
                    "uid": meta.get("uid"),
                    "generation": meta.get("generation"),
                    "observedGeneration": status.get("observedGeneration"),
                    "ready": cond.get("status") == "True",
                    "reason": cond.get("reason"),
                    "clientId": status.get("clientId"),
                    "secretName": status.get("secretName") or f"{key[1]}-credentials",
                    "deleting": bool(meta.get("deletionTimestamp")),
                }
                if cond.get("status") == "True":
                    self.ready_at.setdefault(key, now)
            self.cond.notify_all()

    def _on_secret(self, kind: str, obj: dict[str, Any], now: float) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        with self.cond:
            if kind == "DELETED":
                self.secret_at.pop(key, None)
            else:
                self.secret_at.setdefault(key, now)
            self.cond.notify_all()

    def forget(self, keys: Iterable[Key]) -> None:
        with self.cond:
            for key in keys:
                self.ready_at.pop(key, None)

    def done_at(self, key: Key) -> float | None:
        """When the resource was first Ready with its Secret present (None: not yet)."""
        ready = self.ready_at.get(key)
        obj = self.objects.get(key)
        if ready is None or obj is None:
            return None
        secret = self.secret_at.get((key[0], obj["secretName"]))
        return None if secret is None else max(ready, secret)

    def wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
                self.cond.wait(min(left, 1.0))

    def wait_done(self, keys: list[Key], timeout: float) -> dict[Key, float]:
        self.wait(lambda: all(self.done_at(k) is not None for k in keys), timeout,
                  f"{len(keys)} resources Ready with their Secret")
        return {k: self.done_at(k) for k in keys}  # type: ignore[misc]

    def count_done(self, keys: list[Key]) -> int:
        with self.cond:
            return sum(1 for k in keys if self.done_at(k) is not None)

    def wait_observed(self, keys: list[Key], generation: int, timeout: float) -> None:
        def ok() -> bool:
            return all((self.objects.get(k) or {}).get("observedGeneration") == generation
                       and (self.objects.get(k) or {}).get("ready") for k in keys)
        self.wait(ok, timeout, f"{len(keys)} resources at observedGeneration {generation}")

    def wait_gone(self, keys: list[Key], timeout: float) -> None:
        self.wait(lambda: all(k not in self.objects for k in keys), timeout,
                  f"{len(keys)} resources deleted")


# ------------------------------------------------------------------------------- meters

AuditMark = tuple[int, int]  # (inode of the log file, offset in it)


class AuditLog:
    """Incremental reader of the API server's audit log (one JSON event per line).

    kube-apiserver rotates the log at 100 MB (its log library's default when no
    --audit-log-maxsize is given), which a 10,000-resource run passes: a mark names the file by
    inode, and reading follows it into the rotated file and every newer one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self, settle: float = 1.0) -> AuditMark:
        time.sleep(settle)  # let requests in flight land in the log
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_ino, st.st_size)

    def _files_since(self, mark: AuditMark) -> list[tuple[Path, int]]:
        inode, offset = mark
        files = []
        for p in self.path.parent.glob(f"{self.path.stem}*{self.path.suffix}"):
            with contextlib.suppress(FileNotFoundError):
                st = p.stat()
                files.append((st.st_mtime, st.st_ino, p))
        files.sort()
        start = next((i for i, (_, ino, _) in enumerate(files) if ino == inode), None)
        if start is None:
            return [(self.path, offset)]
        return [(files[start][2], offset)] + [(p, 0) for _, _, p in files[start + 1:]]

    def events(self, since: AuditMark) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for path, offset in self._files_since(since):
            with path.open("rb") as f:
                f.seek(offset)
                data = f.read()
            for line in data.splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    out.append(json.loads(line))
        return out

    def writes(self, since: AuditMark, user: str) -> dict[str, Any]:
        events = [e for e in self.events(since)
                  if (e.get("user") or {}).get("username") == user
                  and e.get("stage") == "ResponseComplete"]
        by_kind: Counter[str] = Counter()
        by_verb: Counter[str] = Counter()
        reads: Counter[str] = Counter()
        for e in events:
            verb = e.get("verb", "")
            ref = e.get("objectRef") or {}
            what = ref.get("resource", "") + (f"/{ref['subresource']}"
                                               if ref.get("subresource") else "")
            if verb in WRITE_VERBS:
                by_kind[f"{HTTP_VERB[verb]} {what}"] += 1
                by_verb[HTTP_VERB[verb]] += 1
            else:
                reads[f"{verb} {what}"] += 1
        return {"writes": sum(by_verb.values()), "writes_by_verb": dict(by_verb),
                "writes_by_kind": dict(by_kind), "reads": dict(reads)}


class SimMeter:
    """Windows over the simulator's call log (`Seq` marks)."""

    def __init__(self, sim: SimProcess) -> None:
        self.sim = sim
        self._last = 0

    def mark(self) -> int:
        """The newest `Seq` so far (fetches only what is newer than the last mark)."""
        self.calls(self._last)
        return self._last

    def calls(self, since: int) -> list[dict[str, Any]]:
        calls = self.sim.admin.calls(since=since)
        if calls:
            self._last = max(self._last, int(calls[-1]["Seq"]))
        return calls

    def summary(self, since: int, caller: str | None = None) -> dict[str, Any]:
        calls = [c for c in self.calls(since) if caller is None or c.get("Caller") == caller
                 or c.get("Route") in AUTH_ROUTES]
        routes = Counter(c["Route"] for c in calls)
        api = {k: v for k, v in routes.items() if k not in AUTH_ROUTES}
        return {
            "identity_calls": sum(api.values()),
            "identity_reads": sum(v for k, v in api.items() if k in IDENTITY_READS),
            "identity_writes": sum(v for k, v in api.items() if k not in IDENTITY_READS),
            "by_route": dict(routes),
            "auth_calls": sum(v for k, v in routes.items() if k in AUTH_ROUTES),
            "non_2xx": sum(1 for c in calls if not str(c["Status"]).startswith("2")),
        }


def scrape_metrics(port: int) -> dict[str, float]:
    """The operator's Prometheus text, as {'name{labels}': value}."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[name] = float(value)
    return out


def reconciles(port: int, cause: str) -> float:
    try:
        metrics = scrape_metrics(port)
    except httpx.HTTPError:
        return 0.0
    return sum(v for k, v in metrics.items()
               if k.startswith("ccoperator_reconciles_total{") and f'cause="{cause}"' in k)


class RssSampler:
    """Samples a process's RSS (and CPU time) every `interval` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (t, rss MiB, cpu seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                cpu = self.proc.cpu_times()
                self.samples.append((time.monotonic(), self.proc.memory_info().rss / 2**20,
                                     cpu.user + cpu.system))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak(self) -> float:
        return max((s[1] for s in self.samples), default=0.0)


def rss_mib(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss / 2**20)


def cpu_seconds(pid: int) -> float:
    cpu = psutil.Process(pid).cpu_times()
    return float(cpu.user + cpu.system)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class CpuWindow:
    """CPU seconds used by named processes, and how busy the whole machine was, over a
    window: what else competed for the two cores while a figure was taken."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {k: v for k, v in pids.items() if v}
        self.start_cpu = {k: _cpu_or_zero(v) for k, v in self.pids.items()}
        self.start_ticks = machine_ticks()

    def read(self) -> dict[str, Any]:
        busy, total = machine_ticks()
        ours = {k: round(_cpu_or_zero(v) - self.start_cpu[k], 2) for k, v in self.pids.items()}
        ticks = os.sysconf("SC_CLK_TCK")
        busy_s = (busy - self.start_ticks[0]) / ticks
        total_s = (total - self.start_ticks[1]) / ticks
        return {"cpu_seconds": ours, "machine_busy_fraction": round(busy_s / total_s, 3)
                if total_s else None,
                "other_cpu_seconds": round(busy_s - sum(ours.values()), 1)}


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except psutil.Error:
        return 0.0


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import platform

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------------------------------- the setup

def declare_tenants(plane: ControlPlane, bootstrap_result: dict[str, Any]) -> None:
    """One ClusterIdentityTenant per simulator tenant, named after it (the floor relies on
    that), open to every namespace and every role of the tenant."""
    for tenant, info in bootstrap_result["Tenants"].items():
        plane.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ClusterIdentityTenant",
            "metadata": {"name": tenant},
            "spec": {"tenantId": tenant, "namespaceSelector": {},
                     "allowedRoleIds": sorted(set(info["Roles"].values()))},
        }))


@dataclass
class Env:
    """A control plane (audit log on), the simulator with three tenants, the CRD, the
    ServiceAccounts and the namespaces: what every benchmark phase runs in."""

    plane: ControlPlane
    sim: SimProcess
    kube: KubeAdmin
    watcher: Watcher
    audit: AuditLog
    meter: SimMeter
    kubeconfigs: dict[str, Path] = field(default_factory=dict)
    member_roles: dict[str, str] = field(default_factory=dict)

    @classmethod
    @contextlib.contextmanager
    def up(cls, namespaces: Iterable[str], sim_args: list[str] | None = None) -> Iterator[Env]:
        with ControlPlane(audit_log=True) as plane, SimProcess(extra_args=sim_args) as sim:
            result = sim.reset(bootstrap_document())
            member_roles = {t: v["Roles"][MEMBER_ROLE] for t, v in result["Tenants"].items()}
            plane.kubectl("apply", "-k", str(REPO / "crds"))
            for name in CRD_NAMES:
                wait_crd_established(plane, name)
            declare_tenants(plane, result)
            kube = KubeAdmin(plane.kubeconfig)
            kube.ensure_namespace(SA_NAMESPACE)
            base = REPO / "deploy" / "base"
            plane.kubectl("apply", "-f", str(base / "clusterrole.yaml"))
            kubeconfigs = {}
            for sa in (OPERATOR_SA, FLOOR_SA, NOOP_SA):
                plane.kubectl("create", "serviceaccount", sa, "-n", SA_NAMESPACE)
                plane.kubectl("create", "clusterrolebinding", f"bench-{sa}",
                              "--clusterrole=ccoperator",
                              f"--serviceaccount={SA_NAMESPACE}:{sa}")
                token = plane.kubectl("create", "token", sa, "-n", SA_NAMESPACE,
                                      "--duration=24h").stdout.strip()
                kubeconfigs[sa] = write_token_kubeconfig(
                    plane, token, plane.workdir / f"{sa}.kubeconfig")
            for ns in namespaces:
                kube.ensure_namespace(ns)
            watcher = Watcher(plane.kubeconfig).start()
            assert plane.audit_log_path is not None
            env = cls(plane=plane, sim=sim, kube=kube, watcher=watcher,
                      audit=AuditLog(plane.audit_log_path), meter=SimMeter(sim),
                      kubeconfigs=kubeconfigs, member_roles=member_roles)
            try:
                yield env
            finally:
                watcher.stop()
                kube.close()

    def spec(self, tenant: str, **extra: Any) -> dict[str, Any]:
        return {"tenantRef": {"name": tenant}, "roleIds": [self.member_roles[tenant]], **extra}

    def operator(self, namespaces: list[str], **env: str) -> OperatorProcess:
        """A `ccoperator run` under the operator's ServiceAccount, metrics on a free port."""
        metrics_port = free_port()
        process = OperatorProcess(
            kubeconfig=self.kubeconfigs[OPERATOR_SA], identity_url=self.sim.base_url,
            client_id=self.sim.admin_client_id, client_secret=self.sim.admin_client_secret,
            namespaces=namespaces,
            env={"CCOPERATOR_METRICS_PORT": str(metrics_port),
                 "CCOPERATOR_LOG_LEVEL": "INFO", **env})
        process.metrics_port = metrics_port  # type: ignore[attr-defined]
        return process
