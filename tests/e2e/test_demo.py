"""`ccoperator demo` (what `make demo` runs) works end to end, prints what the README's
examples need, and leaves nothing behind however it is stopped: --once, SIGTERM, SIGHUP, and
SIGKILL of the demo process itself (no process, no temp dir, no file holding the secret)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from identity_sim.bootstrap import DEFAULT_ADMIN_CLIENT, DEFAULT_ROLES, DEFAULT_V1_ROLES

from .support import REPO

RUNNING = "running; press Ctrl-C"
# The three cases share one start-up each, all started at once (see `demos`).
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGKILL)


def test_demo_once_shows_ready_clients_with_masked_secrets() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ccoperator.cli", "demo", "--once"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "all 2 examples Ready" in out
    assert re.search(r"reporting-api\s+\S+\s+demo-tenant\s+true\s+True\s+ClientReady", out), out
    assert "clientSecret: ******** (" in out and "CLIENT_SECRET: ******** (" in out
    assert "kubeconfig: " in out and "describe ccc reporting-api" in out
    assert "everything cleaned up" in out
    # Nothing it started is left behind: the cluster's and the operator's temp dirs are gone.
    kubeconfig = re.search(r"kubeconfig: (\S+)", out)
    operator_log = re.search(r"log (\S+operator\.log)", out)
    assert kubeconfig is not None and operator_log is not None
    assert not Path(kubeconfig.group(1)).parent.exists()
    assert not Path(operator_log.group(1)).parent.exists()


# ---- /proc ----------------------------------------------------------------------------------

def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[19])


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def descendants(root: int) -> dict[int, int]:
    """Every process below `root` (pid -> start time, so a reused pid is not mistaken)."""
    children: dict[int, list[tuple[int, int]]] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None:
            children.setdefault(stat[1], []).append((pid, stat[2]))
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for pid, started in children.get(todo.pop(), []):
            found[pid] = started
            todo.append(pid)
    return found


def alive(processes: dict[int, int]) -> list[int]:
    """The ones still running (a zombie nobody reaps counts as gone)."""
    return [pid for pid, started in processes.items()
            if (stat := _stat(pid)) is not None and stat[2] == started and stat[0] != "Z"]


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def operators(kubeconfig: str) -> list[int]:
    """Processes running `ccoperator.cli run` against this kubeconfig, whoever started them."""
    wanted = f"KUBECONFIG={kubeconfig}".encode()
    return [pid for pid in _pids()
            if b"ccoperator.cli\0run" in _read(f"/proc/{pid}/cmdline")
            and wanted in _read(f"/proc/{pid}/environ").split(b"\0")]


def admin_secret(operator_pid: int) -> str:
    """The administrator secret the demo handed its operator (never printed, so read here)."""
    for item in _read(f"/proc/{operator_pid}/environ").split(b"\0"):
        if item.startswith(b"CCOPERATOR_CLIENT_SECRET="):
            return item.split(b"=", 1)[1].decode()
    raise AssertionError("the operator has no CCOPERATOR_CLIENT_SECRET")


# ---- a running demo -------------------------------------------------------------------------

@dataclass
class Demo:
    """`ccoperator demo` with its own TMPDIR and cwd, so whatever it writes lands below
    `root`; its output (stdout and stderr) is collected by a thread."""

    root: Path
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    started: dict[int, int] = field(default_factory=dict)  # its processes, once running

    @classmethod
    def start(cls, root: Path) -> Demo:
        (root / "tmp").mkdir()
        (root / "cwd").mkdir()
        env = {**os.environ, "TMPDIR": str(root / "tmp"), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "ccoperator.cli", "demo"],
                                cwd=root / "cwd", env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        demo = cls(root, proc)
        threading.Thread(target=demo._collect, daemon=True).start()
        return demo

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_running(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while RUNNING not in self.output:
            assert self.proc.poll() is None, f"demo exited:\n{self.output}"
            assert time.monotonic() < deadline, f"demo not running after {timeout}s:\n" \
                f"{self.output}"
            time.sleep(0.2)
        self.started = descendants(self.proc.pid)

    @property
    def kubeconfig(self) -> str:
        found = re.search(r"^kubeconfig: (\S+)", self.output, re.M)
        assert found is not None, self.output
        return found.group(1)

    def leftovers(self) -> list[Path]:
        return sorted(p for folder in ("tmp", "cwd") for p in (self.root / folder).rglob("*"))

    def destroy(self) -> None:
        """Whatever a failed test left running (by pid, checked against its start time)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in alive(self.started):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Demo]]:
    """One running demo per signal case, started all at once (start-up is most of the time)."""
    started = {s: Demo.start(tmp_path_factory.mktemp(f"demo-{s.name}")) for s in SIGNALS}
    try:
        began = time.monotonic()
        for demo in started.values():
            demo.wait_running(timeout=240)
        print(f"{len(started)} demos running after {time.monotonic() - began:.1f}s")
        yield started
    finally:
        for demo in started.values():
            demo.destroy()


def test_running_demo_prints_ids_and_serves_metrics(demos: dict[int, Demo]) -> None:
    demo = demos[signal.SIGTERM]
    assert demo.proc.poll() is None, "runs before the SIGTERM case stops this demo"
    out = demo.output
    # What the README's examples need: role ids of both demo tenants, the administrator's id.
    for role_id in [*DEFAULT_ROLES.values(), *DEFAULT_V1_ROLES.values()]:
        assert role_id in out, role_id
    assert DEFAULT_ADMIN_CLIENT in out
    [operator] = operators(demo.kubeconfig)
    assert admin_secret(operator) not in out
    metrics = re.search(r"http://127\.0\.0\.1:\d+/metrics", out)
    assert metrics is not None, out
    answer = httpx.get(metrics.group(0), timeout=10, trust_env=False)
    assert answer.status_code == 200 and "\nccoperator_" in answer.text, answer.text[:2000]
    healthz = re.search(r"http://127\.0\.0\.1:\d+/healthz", out)
    assert healthz is not None, out
    assert httpx.get(healthz.group(0), timeout=10, trust_env=False).status_code == 200


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_demo_leaves_nothing_behind(demos: dict[int, Demo], signum: signal.Signals) -> None:
    demo = demos[signum]
    assert demo.proc.poll() is None, demo.output
    kubeconfig = demo.kubeconfig
    [operator] = operators(kubeconfig)
    assert operator in demo.started
    secret = admin_secret(operator)
    # Every child: operator, simulator, etcd, kube-apiserver, kube-controller-manager.
    assert len(demo.started) >= 5, demo.started

    stopped_at = time.monotonic()
    demo.proc.send_signal(signum)
    assert demo.proc.wait(timeout=60) == -signum, demo.output
    if signum != signal.SIGKILL:
        assert "everything cleaned up" in demo.output, demo.output
    # After SIGKILL, parent-death signals and the guardian do the work: give them a moment.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (alive(demo.started) or operators(kubeconfig)
                                           or demo.leftovers()):
        time.sleep(0.2)
    print(f"{signum.name}: clean {time.monotonic() - stopped_at:.1f}s after the signal")
    assert alive(demo.started) == [], (demo.started, demo.output)
    assert operators(kubeconfig) == []
    left = demo.leftovers()
    assert not [p for p in left if p.name.startswith("ccoperator-demo.")], left
    assert not [p for p in left if p.name == "ready.json"], left
    holding = [p for p in left if p.is_file() and secret.encode() in p.read_bytes()]
    assert holding == [], holding
    assert left == [], left
    assert secret not in demo.output
