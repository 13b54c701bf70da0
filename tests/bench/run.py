"""Benchmarks of ccoperator against the API-call floor, on a real control plane.

    .venv/bin/python -m tests.bench.run                 # = make bench: the full default
    .venv/bin/python -m tests.bench.run --burst 100 --restart 100 --memory 100 --samples 10 \
        --resync 20s --out /tmp/bench-smoke             # a quick smoke run
    .venv/bin/python -m tests.bench.run --admission-policies   # + single and burst with
                                                        # deploy/'s admission policies

One run: a control plane (etcd + kube-apiserver + kube-controller-manager, audit log on),
the identity simulator (three tenants; the administrator client is Account Administrator in
each) and, one at a time, the processes under test, all separate processes on loopback:

- the operator: `python -m ccoperator.cli run` under deploy/'s ClusterRole (its own
  ServiceAccount, so the audit log attributes its calls), metrics on a free port;
- the floor (`tests/bench/floor.py`): only the calls a create needs, same identity
  concurrency, under its own ServiceAccount;
- a kopf operator with no-op handlers (`tests/bench/noop_operator.py`), for memory.

Phases, in order: single-resource latency (floor, then operator); cost per change (create,
update, delete of those single resources); burst (floor, then operator); steady state over
one resync period; restart and memory at each population size, growing the population by
further creates between sizes. With --admission-policies (issue 20), the single-resource and
burst phases of the operator run a second time with deploy/'s ValidatingAdmissionPolicies
installed (right after the single phase; after the steady state for the burst, in the same
namespaces, those resources deleted again before the restarts): figures
`single_operator_policies` and `burst_operator_policies`, beside the unchanged ones.
Results: `<out>/latest.json`, PNG plots in `<out>/`, and the generated section of
`docs/PERFORMANCE.md` (with `--doc`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ccoperator.api.clients import parse_duration

from tests.admission_support import Probe, policy_docs
from tests.bench import report
from tests.bench.harness import (
    FLOOR_SA,
    NOOP_SA,
    OPERATOR_SA,
    TENANTS,
    AuditMark,
    CpuWindow,
    Env,
    Key,
    RssSampler,
    cpu_seconds,
    machine,
    percentile,
    reconciles,
    rss_mib,
    sa_user,
)
from tests.e2e.support import REPO, OperatorProcess

NAMESPACES = [f"bench-{i}" for i in range(10)]
FLOOR_NAMESPACES = [f"floor-{i}" for i in range(10)]
SINGLE_NS, FLOOR_SINGLE_NS = "bench-single", "floor-single"
IDENTITY_CONCURRENCY = 8  # the operator's default; the floor uses the same


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sizes(text: str) -> list[int]:
    return sorted({int(x) for x in text.split(",") if x.strip()})


class FloorProcess:
    """`python -m tests.bench.floor run` as a child process."""

    def __init__(self, env: Env, namespaces: list[str], workdir: Path) -> None:
        self.env = env
        self.ready = workdir / "floor.ready"
        self.log_path = workdir / "floor.log"
        self.ready.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "tests.bench.floor", "run",
               "--kubeconfig", str(env.kubeconfigs[FLOOR_SA]),
               "--identity-url", env.sim.base_url, "--token-url", env.sim.token_url,
               "--client-id", env.sim.admin_client_id, "--namespaces", ",".join(namespaces),
               "--concurrency", str(IDENTITY_CONCURRENCY), "--ready-file", str(self.ready)]
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "FLOOR_CLIENT_SECRET": env.sim.admin_client_secret})
        deadline = time.monotonic() + 60
        while not self.ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"floor did not start:\n{self.log_path.read_text()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class NoopProcess:
    def __init__(self, env: Env, namespaces: list[str], workdir: Path, daemons: bool) -> None:
        self.status = workdir / f"noop-{int(daemons)}.json"
        self.status.unlink(missing_ok=True)
        self.log_path = workdir / "noop.log"
        cmd = [sys.executable, "-m", "tests.bench.noop_operator",
               "--namespaces", ",".join(namespaces), "--status-file", str(self.status),
               "--log-level", os.environ.get("BENCH_NOOP_LOG_LEVEL", "WARNING")]
        if daemons:
            cmd.append("--daemons")
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "KUBECONFIG": str(env.kubeconfigs[NOOP_SA])})

    def state(self) -> dict[str, int]:
        if self.proc.poll() is not None:
            raise RuntimeError(f"no-op operator exited:\n{self.log_path.read_text()[-3000:]}")
        try:
            return dict(json.loads(self.status.read_text()))
        except (OSError, ValueError):
            return {"seen": 0, "daemons": 0}

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Bench:
    def __init__(self, env: Env, args: argparse.Namespace, workdir: Path) -> None:
        self.env = env
        self.args = args
        self.workdir = workdir
        self.resync = parse_duration(args.resync).total_seconds()
        self.results: dict[str, Any] = {}
        self.population: list[Key] = []
        self.operator: OperatorProcess | None = None
        self.profiles: list[subprocess.Popen[bytes]] = []

    # ---------------------------------------------------------------- processes under test

    def start_operator(self) -> OperatorProcess:
        if self.operator is None:
            self.operator = self.env.operator(
                [*NAMESPACES, SINGLE_NS],
                CCOPERATOR_RESYNC_PERIOD=self.args.resync,
                CCOPERATOR_IDENTITY_CONCURRENCY=str(IDENTITY_CONCURRENCY),
            )
        self.operator.start()
        return self.operator

    @property
    def metrics_port(self) -> int:
        assert self.operator is not None
        return int(self.operator.metrics_port)  # type: ignore[attr-defined]

    @property
    def operator_pid(self) -> int:
        assert self.operator is not None and self.operator.proc is not None
        return self.operator.proc.pid

    def profile(self, pid: int, name: str, seconds: float, rate: int = 50) -> None:
        """py-spy the process for `seconds` (only with --profile)."""
        if not self.args.profile:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            log("--profile: py-spy not found (pip install py-spy); not profiling")
            return
        out = Path(self.args.profile)
        out.mkdir(parents=True, exist_ok=True)
        for fmt, ext in (("raw", "txt"),):
            self.profiles.append(subprocess.Popen(
                [spy, "record", "--pid", str(pid), "--rate", str(rate), "--gil", "--duration",
                 str(int(seconds)), "--format", fmt, "--output", str(out / f"{name}.{ext}"),
                 "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def cpu_window(self, who: str, pid: int) -> CpuWindow:
        pids = self.env.plane.pids
        return CpuWindow({who: pid, "kube-apiserver": pids.get("kube-apiserver"),
                          "etcd": pids.get("etcd"), "identity_sim": self.env.sim.pid,
                          "bench": os.getpid()})

    def spec(self, i: int) -> dict[str, Any]:
        return self.env.spec(TENANTS[i % len(TENANTS)])

    def window(self) -> tuple[AuditMark, int]:
        return self.env.audit.mark(), self.env.meter.mark()

    def costs(self, marks: tuple[AuditMark, int], user: str, per: int) -> dict[str, Any]:
        audit_mark, sim_mark = marks
        k8s = self.env.audit.writes(audit_mark, user)
        identity = self.env.meter.summary(sim_mark)
        return {
            "changes": per,
            "k8s_writes": k8s["writes"], "k8s_writes_by_kind": k8s["writes_by_kind"],
            "k8s_reads": k8s["reads"],
            "identity_calls": identity["identity_calls"],
            "identity_by_route": identity["by_route"],
            "k8s_writes_per_change": k8s["writes"] / per if per else None,
            "identity_calls_per_change": identity["identity_calls"] / per if per else None,
        }

    # ------------------------------------------------------------------------ phases

    def single(self, who: str, namespace: str, n: int, prefix: str = "single"
               ) -> dict[str, Any]:
        watcher = self.env.watcher
        latencies: list[float] = []
        create_calls: list[float] = []  # the POST alone: where admission spends its time
        marks = self.window()
        window = self.cpu_window(who, self.operator_pid if who == "operator" else 0)
        if who == "operator":
            # Each create is ~20 ms of work among 300 ms pauses: sample densely.
            self.profile(self.operator_pid, "single-operator", n * 0.35 + 1, rate=1000)
        for i in range(n):
            key = (namespace, f"{prefix}-{i:03d}")
            t0 = time.monotonic()
            self.env.kube.create_ccc(namespace, key[1], self.spec(i))
            create_calls.append(time.monotonic() - t0)
            done = watcher.wait_done([key], timeout=120)[key]
            latencies.append(done - t0)
            time.sleep(0.3)  # let the tail of this create (events, watch echoes) pass
        time.sleep(2)
        user = sa_user(OPERATOR_SA if who == "operator" else FLOOR_SA)
        result = {
            "samples_s": latencies,
            "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
            "p99_s": percentile(latencies, 99), "mean_s": sum(latencies) / len(latencies),
            "create_call_samples_s": create_calls,
            "create_call_p50_s": percentile(create_calls, 50),
            "cost_create": self.costs(marks, user, n),
            "cpu": window.read(),
        }
        log(f"single {who}: p50 {result['p50_s'] * 1000:.0f} ms, "
            f"p95 {result['p95_s'] * 1000:.0f} ms, p99 {result['p99_s'] * 1000:.0f} ms")
        return result

    def update_and_delete(self, namespace: str, n: int) -> dict[str, Any]:
        keys = [(namespace, f"single-{i:03d}") for i in range(n)]
        out: dict[str, Any] = {}
        marks = self.window()
        self.env.kube.patch_cccs(keys, {"spec": {"name": "renamed"}})
        self.env.watcher.wait_observed(keys, 2, timeout=120)
        time.sleep(2)
        out["update"] = self.costs(marks, sa_user(OPERATOR_SA), n)
        marks = self.window()
        self.env.kube.delete_cccs(keys)
        self.env.watcher.wait_gone(keys, timeout=180)
        time.sleep(2)
        out["delete"] = self.costs(marks, sa_user(OPERATOR_SA), n)
        log(f"update: {out['update']['k8s_writes_per_change']:.2f} writes, "
            f"{out['update']['identity_calls_per_change']:.2f} identity calls per change; "
            f"delete: {out['delete']['k8s_writes_per_change']:.2f} / "
            f"{out['delete']['identity_calls_per_change']:.2f}")
        return out

    def burst(self, who: str, namespaces: list[str], start: int, n: int, pid: int,
              timeout: float, prefix: str = "r") -> tuple[dict[str, Any], list[Key]]:
        keys = [(namespaces[i % len(namespaces)], f"{prefix}-{i:05d}")
                for i in range(start, start + n)]
        items = [(ns, name, self.spec(i)) for i, (ns, name) in
                 zip(range(start, start + n), keys, strict=True)]
        marks = self.window()
        cpu0 = cpu_seconds(pid)
        window = self.cpu_window(who, pid)
        sampler = RssSampler(pid).start()
        self.profile(pid, f"burst-{who}-{n}", min(timeout, 30 + n / 20))
        t0 = time.monotonic()
        self.env.kube.create_cccs(items)
        created = time.monotonic() - t0
        result: dict[str, Any] = {"resources": n, "create_calls_s": created}
        try:
            done = self.env.watcher.wait_done(keys, timeout=timeout)
            result["completed"] = n
        except TimeoutError:
            done = {k: v for k in keys if (v := self.env.watcher.done_at(k)) is not None}
            result["completed"] = len(done)
            result["timed_out_after_s"] = timeout
            log(f"burst {who}: only {len(done)}/{n} Ready after {timeout:.0f}s")
        sampler.stop()
        result["cpu"] = window.read()
        times = sorted(t - t0 for t in done.values())
        total = times[-1] if times else float("nan")
        time.sleep(2)
        user = sa_user(OPERATOR_SA if who == "operator" else FLOOR_SA)
        result.update({
            "all_ready_s": total,
            "throughput_per_s": len(times) / total if times else 0.0,
            "ready_times_s": [round(t, 3) for t in times],
            "cpu_seconds": cpu_seconds(pid) - cpu0,
            "rss_peak_mib": sampler.peak,
            "rss_samples": [(round(t - t0, 2), round(r, 1)) for t, r, _ in sampler.samples],
            "cost": self.costs(marks, user, n),
        })
        log(f"burst {who} {n}: all Ready in {total:.1f}s ({result['throughput_per_s']:.1f}/s), "
            f"{result['cpu_seconds']:.0f} CPU-s, peak RSS {sampler.peak:.0f} MiB")
        return result, keys

    def admission_policies(self, on: bool) -> None:
        """Install (or remove) deploy/'s admission policies and wait until the API server
        enforces them (or no longer does). The probe's tenant objects exist only meanwhile,
        so that the operator's tenant checks of them stay out of the measured windows."""
        plane = self.env.plane
        docs = policy_docs(plane)
        with plane.api_client() as api:
            from kubernetes import client as k8s

            probe = Probe(plane, k8s.CustomObjectsApi(api), k8s.CoreV1Api(api))
            probe.create()
            try:
                if on:
                    plane.kubectl("apply", "-f", "-", input=yaml_dump(docs))
                    probe.wait_in_effect()
                else:
                    for doc in docs:
                        plane.kubectl("delete", doc["kind"], doc["metadata"]["name"],
                                      "--ignore-not-found")
                    probe.wait_gone()
            finally:
                probe.delete()
        log(f"admission policies {'installed' if on else 'removed'}")

    def with_policies(self, measure: Callable[[], Any]) -> Any:
        self.admission_policies(True)
        time.sleep(2)  # the probe's namespace and tenant objects go away
        try:
            return measure()
        finally:
            self.admission_policies(False)

    def remove(self, keys: list[Key]) -> None:
        """Delete resources created only for a comparison, and wait until they are gone."""
        self.env.kube.delete_cccs(keys)
        self.env.watcher.wait_gone(keys, timeout=300 + len(keys) * 0.5)
        time.sleep(2)

    def steady(self, last_ready: float) -> dict[str, Any]:
        """One full resync period after the burst: identity calls and Kubernetes writes."""
        time.sleep(3)
        resync_before = reconciles(self.metrics_port, "resync")
        marks = self.window()
        t0 = time.monotonic()
        # Every resource's first resync comes at most resync*1.1 after its last pass.
        until = last_ready + self.resync * (1 + 0.1) + 5
        self.profile(self.operator_pid, "steady", max(until - time.monotonic(), 1))
        cpu0 = cpu_seconds(self.operator_pid)
        time.sleep(max(until - time.monotonic(), self.resync * 1.1))
        out = self.costs(marks, sa_user(OPERATOR_SA), len(self.population))
        out["window_s"] = time.monotonic() - t0
        out["resync_reconciles"] = reconciles(self.metrics_port, "resync") - resync_before
        out["cpu_seconds"] = cpu_seconds(self.operator_pid) - cpu0
        out["identity_floor"] = self.list_pages()
        log(f"steady: {out['k8s_writes']} Kubernetes writes, {out['identity_calls']} identity "
            f"calls {out['identity_by_route']}, {out['resync_reconciles']:.0f} resync passes "
            f"in {out['window_s']:.0f}s")
        return out

    def restart(self, n: int) -> dict[str, Any]:
        assert self.operator is not None
        t_stop = time.monotonic()
        self.operator.stop()
        stop_s = time.monotonic() - t_stop
        marks = self.window()
        t0 = time.monotonic()
        # From here on the operator runs with --restart-resync (default: the production
        # 10m), so the figure is the resume wave itself, not also the resync passes of the
        # objects it verified first (10,000 objects every 60 s is more than it can serve).
        self.operator.start(CCOPERATOR_RESYNC_PERIOD=self.args.restart_resync)
        up = time.monotonic() - t0
        window = self.cpu_window("operator", self.operator_pid)
        self.profile(self.operator_pid, f"restart-{n}", 20 + n / 100)
        timeout = 120 + n * 0.2
        verified_s = None
        while time.monotonic() - t0 < timeout:
            count = reconciles(self.metrics_port, "resume")
            if count >= n:
                verified_s = time.monotonic() - t0
                break
            time.sleep(0.25)
        rss_at_verified = rss_mib(self.operator_pid)
        cpu_window = window.read()
        cpu = cpu_seconds(self.operator_pid)
        time.sleep(3)
        out = self.costs(marks, sa_user(OPERATOR_SA), n)
        identity_reads = {k: v for k, v in out["identity_by_route"].items()
                          if k in ("clients.get", "clients.list", "secrets.list")}
        metrics = self.resume_results()
        pages = self.list_pages()
        out.update({
            "resources": n, "stop_s": stop_s, "process_up_s": up,
            "verified_s": verified_s, "timeout_s": timeout if verified_s is None else None,
            "resume_reconciles": metrics, "identity_reads": identity_reads,
            "identity_reads_floor": pages, "cpu_seconds_to_verified": cpu,
            "rss_at_verified_mib": rss_at_verified, "cpu": cpu_window,
        })
        log(f"restart {n}: verified in {verified_s}s (process up {up:.1f}s), identity "
            f"{out['identity_by_route']}, floor {pages} list pages, "
            f"{out['k8s_writes']} Kubernetes writes")
        return out

    def failover(self, n: int) -> dict[str, Any]:
        """Two replicas with leader election (production timings) over `n` resources: SIGKILL
        the leader; how long until the standby leads, and until it verified every resource."""
        from tests.bench.harness import SA_NAMESPACE, scrape_metrics

        self.env.plane.kubectl("apply", "-f", str(REPO / "deploy" / "base" /
                                                  "leader-election.yaml"), "-n", SA_NAMESPACE)
        if self.operator is not None:
            self.operator.stop()
        election = {"CCOPERATOR_LEADER_ELECTION": "true", "CCOPERATOR_NAMESPACE": SA_NAMESPACE,
                    "CCOPERATOR_RESYNC_PERIOD": self.args.restart_resync,
                    "CCOPERATOR_IDENTITY_CONCURRENCY": str(IDENTITY_CONCURRENCY)}
        replicas = [self.env.operator([*NAMESPACES, SINGLE_NS], HOSTNAME=f"bench-{x}",
                                      **election) for x in "ab"]

        def leads(process: OperatorProcess) -> bool:
            try:
                metrics = scrape_metrics(int(process.metrics_port))  # type: ignore[attr-defined]
            except Exception:  # not serving yet
                return False
            return metrics.get("ccoperator_leader") == 1

        a, b = replicas
        try:
            a.start()
            deadline = time.monotonic() + 60
            while not leads(a) and time.monotonic() < deadline:
                time.sleep(0.2)
            while (reconciles(a.metrics_port, "resume") < n  # type: ignore[attr-defined]
                   and time.monotonic() < deadline + n * 0.1):
                time.sleep(0.5)
            b.start()
            time.sleep(10)  # the standby's watches list everything: its caches are warm
            t0 = time.monotonic()
            a.kill()
            takeover_s = verified_s = None
            while time.monotonic() - t0 < 120 + n * 0.1:
                if takeover_s is None and leads(b):
                    takeover_s = time.monotonic() - t0
                if takeover_s is not None and reconciles(
                        b.metrics_port, "resume") >= n:  # type: ignore[attr-defined]
                    verified_s = time.monotonic() - t0
                    break
                time.sleep(0.1)
        finally:
            for process in replicas:
                process.close()
        out = {"resources": n, "takeover_s": takeover_s, "verified_s": verified_s,
               "lease_duration_s": 15, "renew_deadline_s": 10, "retry_period_s": 2}
        log(f"failover {n}: standby leads after {takeover_s}s, all verified after "
            f"{verified_s}s")
        return out

    def resume_results(self) -> dict[str, float]:
        from tests.bench.harness import scrape_metrics

        metrics = scrape_metrics(self.metrics_port)
        return {k.split("result=")[1].strip('"}'): v for k, v in metrics.items()
                if k.startswith("ccoperator_reconciles_total{") and 'cause="resume"' in k}

    def list_pages(self) -> int:
        """Calls of one paged list per tenant (pages of 100 until a short page)."""
        state = self.env.sim.admin.state()
        return sum(len(state["Tenants"][t]["Clients"]) // 100 + 1 for t in TENANTS)

    def floor_verify(self, n: int) -> dict[str, Any]:
        marks = self.window()
        t0 = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "tests.bench.floor", "verify",
             "--kubeconfig", str(self.env.kubeconfigs[FLOOR_SA]),
             "--identity-url", self.env.sim.base_url, "--token-url", self.env.sim.token_url,
             "--client-id", self.env.sim.admin_client_id, "--namespaces", ",".join(NAMESPACES),
             "--tenants", ",".join(TENANTS)],
            cwd=REPO, capture_output=True, text=True, timeout=600, check=True,
            env={**os.environ, "FLOOR_CLIENT_SECRET": self.env.sim.admin_client_secret})
        wall = time.monotonic() - t0
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["verified_s"] = wall
        result["cost"] = self.costs(marks, sa_user(FLOOR_SA), n)
        log(f"floor verify {n}: {result['verified']}/{result['objects']} in {wall:.1f}s, "
            f"{result['identity_lists']} identity list pages")
        return result

    def memory(self, n: int, operator_rss: float) -> dict[str, Any]:
        out: dict[str, Any] = {"resources": n, "operator_rss_mib": operator_rss}
        assert self.operator is not None
        self.operator.stop()
        audit_mark = self.env.audit.mark(0)
        for daemons in (False, True):
            noop = NoopProcess(self.env, [*NAMESPACES, SINGLE_NS], self.workdir, daemons)
            try:
                field = "daemons" if daemons else "seen"
                deadline = time.monotonic() + 120 + n * 0.05
                while noop.state().get(field, 0) < n:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"no-op operator saw {noop.state()} of {n}")
                    time.sleep(0.5)
                time.sleep(5)
                rss = rss_mib(noop.proc.pid)
            finally:
                noop.stop()
            out["noop_daemons_rss_mib" if daemons else "noop_events_rss_mib"] = rss
        # The baseline must be passive: it writes nothing to the objects it watches.
        out["noop_k8s_writes"] = self.env.audit.writes(audit_mark, sa_user(NOOP_SA))["writes"]
        log(f"memory {n}: operator {operator_rss:.0f} MiB, kopf no-op (events) "
            f"{out['noop_events_rss_mib']:.0f} MiB, kopf no-op (daemons) "
            f"{out['noop_daemons_rss_mib']:.0f} MiB")
        self.start_operator()
        return out

    # ------------------------------------------------------------------------ driver

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        log(f"--- {name}")
        try:
            value = fn()
        except Exception as exc:
            log(f"{name} FAILED: {exc!r}")
            self.results.setdefault("failures", {})[name] = traceback.format_exc()
            return None
        self.save()
        return value

    def save(self) -> None:
        out = Path(self.args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "latest.json").write_text(dump_results(self.results))

    def run(self) -> None:
        args = self.args
        r = self.results
        r["command"] = " ".join(["python -m tests.bench.run", *sys.argv[1:]])
        r["settings"] = {"burst": args.burst, "restart": args.restart, "memory": args.memory,
                         "failover": args.failover,
                         "admission_policies": args.admission_policies,
                         "samples": args.samples, "resync": args.resync,
                         "restart_resync": args.restart_resync,
                         "identity_concurrency": IDENTITY_CONCURRENCY,
                         "tenants": list(TENANTS), "namespaces": len(NAMESPACES)}
        r["machine"] = machine()
        r["operator_commit"] = git_describe()
        r["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")

        # 1. single resource, then cost per change
        floor = FloorProcess(self.env, [*FLOOR_NAMESPACES, FLOOR_SINGLE_NS], self.workdir)
        try:
            r["single_floor"] = self.step("single (floor)", lambda: self.single(
                "floor", FLOOR_SINGLE_NS, args.samples))
        finally:
            floor.stop()
        self.start_operator()
        r["single_operator"] = self.step("single (operator)", lambda: self.single(
            "operator", SINGLE_NS, args.samples))
        if args.admission_policies:
            r["single_operator_policies"] = self.step(
                "single (operator, admission policies)", lambda: self.with_policies(
                    lambda: self.single("operator", SINGLE_NS, args.samples, "single-p")))
            self.step("remove the single resources of the comparison", lambda: self.remove(
                [(SINGLE_NS, f"single-p-{i:03d}") for i in range(args.samples)]))
        r["cost_changes"] = self.step("update + delete", lambda: self.update_and_delete(
            SINGLE_NS, args.samples))

        # 2. burst: floor, then operator (one at a time: they share the two cores)
        timeout = 300 + args.burst * 0.5
        self.operator.stop()  # type: ignore[union-attr]
        floor = FloorProcess(self.env, [*FLOOR_NAMESPACES, FLOOR_SINGLE_NS], self.workdir)
        try:
            res = self.step("burst (floor)", lambda: self.burst(
                "floor", FLOOR_NAMESPACES, 0, args.burst, floor.pid, timeout))
            r["burst_floor"] = res[0] if res else None
        finally:
            floor.stop()
        self.start_operator()
        time.sleep(2)
        res = self.step("burst (operator)", lambda: self.burst(
            "operator", NAMESPACES, 0, args.burst, self.operator_pid, timeout))
        if res:
            r["burst_operator"], keys = res
            self.population = keys
            last = max(self.env.watcher.done_at(k) or 0 for k in keys)
            # 3. steady state over one resync period
            r["steady"] = self.step("steady state", lambda: self.steady(last))
            if args.admission_policies:
                res = self.step("burst (operator, admission policies)",
                                lambda: self.with_policies(lambda: self.burst(
                                    "operator", NAMESPACES, 0, args.burst, self.operator_pid,
                                    timeout, prefix="p")))
                r["burst_operator_policies"] = res[0] if res else None
                self.step("remove the burst of the comparison", lambda: self.remove(
                    [(NAMESPACES[i % len(NAMESPACES)], f"p-{i:05d}")
                     for i in range(args.burst)]))

        # 4./5. restart and memory at each population size
        r["restart"], r["memory"], r["grow"] = [], [], []
        for n in sorted(set(args.restart) | set(args.memory)):
            if n > len(self.population):
                extra = n - len(self.population)
                res = self.step(f"grow to {n}", lambda extra=extra: self.burst(
                    "operator", NAMESPACES, len(self.population), extra, self.operator_pid,
                    600 + extra * 0.3))
                if not res:
                    break
                r["grow"].append(res[0])
                self.population += res[1]
                if res[0]["completed"] < extra:
                    r["grow"][-1]["note"] = "not all Ready in time; later sizes skipped"
                    break
            elif n < len(self.population):
                log(f"size {n} is below the population {len(self.population)}: skipped")
                continue
            restart = self.step(f"restart {n}", lambda n=n: self.restart(n))
            if restart:
                restart["floor"] = self.step(f"floor verify {n}", lambda n=n: self.floor_verify(n))
                r["restart"].append(restart)
            if n in args.memory:
                rss = restart["rss_at_verified_mib"] if restart else rss_mib(self.operator_pid)
                time.sleep(5)
                settled = rss_mib(self.operator_pid)
                mem = self.step(f"memory {n}", lambda n=n, s=settled: self.memory(n, s))
                if mem:
                    mem["operator_rss_at_verified_mib"] = rss
                    r["memory"].append(mem)
        # 6. failover: two replicas, the leader SIGKILLed (at the largest population reached)
        if self.population:
            size = min(len(self.population), args.failover)
            r["failover"] = self.step(f"failover {size}", lambda: self.failover(size))
        r["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        r["sim_cpu_seconds"] = cpu_seconds(self.env.sim.pid or 0) if self.env.sim.pid else None
        self.save()


def yaml_dump(docs: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump_all(docs)


def dump_results(results: dict[str, Any]) -> str:
    """Indented JSON with every list of numbers on one line (per-resource times, samples)."""
    text = json.dumps(results, indent=1)
    return re.sub(r"\[[0-9eE+\-.,\s\[\]]*\]", lambda m: re.sub(r"\s+", "", m.group(0))
                  .replace(",", ", "), text) + "\n"


def git_describe() -> str:
    """The commit the operator ran from, marked dirty when operator/ differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "operator"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ccoperator-bench."))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=1000, help="resources in the burst")
    parser.add_argument("--restart", type=sizes, default=sizes("1000,10000"),
                        help="population sizes to restart the operator over")
    parser.add_argument("--memory", type=sizes, default=sizes("1000,10000"),
                        help="population sizes to measure memory at")
    parser.add_argument("--failover", type=int, default=1000,
                        help="resources in the failover phase (at most the population)")
    parser.add_argument("--samples", type=int, default=50, help="single-resource samples")
    parser.add_argument("--resync", default="60s",
                        help="CCOPERATOR_RESYNC_PERIOD for single, burst and steady state")
    parser.add_argument("--restart-resync", default="10m",
                        help="CCOPERATOR_RESYNC_PERIOD from the first restart on")
    parser.add_argument("--out", default=str(REPO / "docs" / "bench"),
                        help="folder for latest.json and the plots")
    parser.add_argument("--doc", default=None,
                        help="markdown file whose generated section is rewritten "
                             "(default: docs/PERFORMANCE.md when --out is docs/bench)")
    parser.add_argument("--profile", default=None,
                        help="folder: py-spy the operator during burst/steady/restart")
    parser.add_argument("--chaos-seed", type=int, default=1042458451,
                        help="replay the fault suite (tests/faults, two replicas) with this seed "
                        "for the amplification figure; a fixed seed keeps runs comparable "
                        "(-1: skip it)")
    parser.add_argument("--admission-policies", action="store_true",
                        help="also run the single and burst phases of the operator with "
                        "deploy/'s admission policies installed (issue 20)")
    parser.add_argument("--logs", default=None,
                        help="folder to copy the operator, floor and no-op logs into")
    args = parser.parse_args(argv)
    if args.doc is None and Path(args.out).resolve() == (REPO / "docs" / "bench").resolve():
        args.doc = str(REPO / "docs" / "PERFORMANCE.md")
    namespaces = [*NAMESPACES, *FLOOR_NAMESPACES, SINGLE_NS, FLOOR_SINGLE_NS]
    with workdir() as wd, Env.up(namespaces) as env:
        bench = Bench(env, args, wd)
        try:
            bench.run()
        finally:
            if bench.operator is not None:
                bench.operator.stop()
                with contextlib.suppress(OSError):
                    shutil.copy(bench.operator.log_path, wd / "operator.log")
                bench.operator.close()
            for proc in bench.profiles:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=120)
            if args.logs:
                shutil.copytree(wd, Path(args.logs), dirs_exist_ok=True)
        results = bench.results
    if args.chaos_seed is not None:
        # After the benchmark's own control plane is gone: the fault suite starts its own.
        results["chaos"] = fault_suite(args.chaos_seed)
        (Path(args.out) / "latest.json").write_text(dump_results(results))
    report.plots(results, Path(args.out))
    if args.doc:
        report.write_doc(results, Path(args.doc), Path(args.out))
    log(f"results: {Path(args.out) / 'latest.json'}")
    return 0


def fault_suite(seed: int) -> dict[str, Any] | None:
    """The fault-injection suite's summary (amplification = identity calls made / needed)."""
    if seed < 0:
        return None
    log(f"--- fault suite (seed {seed})")
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "chaos.json"
        env = {**os.environ, "CCOPERATOR_CHAOS_SEED": str(seed),
               "CCOPERATOR_CHAOS_REPORT": str(report_path)}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "chaos",
                               "tests/faults", "-p", "no:cacheprovider"],
                              cwd=REPO, env=env, capture_output=True, text=True, check=False)
        if not report_path.exists():
            log(f"fault suite wrote no report (exit {done.returncode}):\n{done.stdout[-2000:]}")
            return None
        summary: dict[str, Any] = json.loads(report_path.read_text())
    summary.pop("events", None)
    summary["passed"] = done.returncode == 0
    log(f"fault suite: amplification {summary.get('amplification')}x, "
        f"converged {summary.get('converged_after_clear_s')} s after the faults cleared, "
        f"passed {summary['passed']}")
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
