"""The demo's stop signals and its guardian, without a control plane (the whole demo under
each signal is tests/e2e/test_demo.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ccoperator.demo_processes import Stopped, stop_on_signals

# Starts a guardian, a child in its own session *without* a parent-death signal (so only the
# guardian can end it), a file in the guardian's dir; then waits to be killed.
OWNER = """if True:
    import subprocess, sys, time
    from ccoperator.demo_processes import Guardian
    guardian = Guardian.start()
    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    guardian.watch(child.pid)
    (guardian.workdir / "secret.json").write_text("{}")
    print(guardian.workdir, child.pid, flush=True)
    time.sleep(600)
"""


def _signal_self(signum: int) -> None:
    """Signal this process's main thread, where the handler runs. A process-directed
    os.kill may be taken by any thread of the test process (earlier tests leave threads
    behind), and then the main thread's sleep is not interrupted and the handler runs late,
    possibly after the block restored the old one: the likely cause of this test failing
    now and then under load."""
    signal.pthread_kill(threading.main_thread().ident or 0, signum)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # killed, not reaped by its (dead) parent yet


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_stop_signals_raise_stopped_once(signum: signal.Signals) -> None:
    before = signal.getsignal(signum)
    with pytest.raises(Stopped) as stopped, stop_on_signals():
        _signal_self(signum)
        time.sleep(5)  # interrupted at once
    assert stopped.value.signum == signum and isinstance(stopped.value, KeyboardInterrupt)
    with stop_on_signals():
        try:
            _signal_self(signum)
            time.sleep(5)
        except Stopped:
            _signal_self(signum)  # during the clean-up: ignored
            time.sleep(0.1)
    assert signal.getsignal(signum) == before


def test_an_ignored_signal_stays_ignored() -> None:
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with stop_on_signals():
            _signal_self(signal.SIGHUP)
            time.sleep(0.1)
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_guardian_cleans_up_after_its_owner_is_killed(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TMPDIR": str(tmp_path)})
    assert owner.stdout is not None
    workdir, child = owner.stdout.readline().split()
    assert Path(workdir).parent == tmp_path and (Path(workdir) / "secret.json").exists()
    assert not _gone(int(child))
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (Path(workdir).exists() or not _gone(int(child))):
        time.sleep(0.05)
    assert _gone(int(child))
    assert list(tmp_path.iterdir()) == []


def test_guardian_removes_its_dir_when_closed(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ccoperator.demo_processes import Guardian

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with Guardian.start() as guardian:
        assert guardian.workdir.parent == tmp_path and guardian.workdir.is_dir()
        (guardian.workdir / "file").write_text("x")
        # Stop signals do not end it early (a service manager sends SIGTERM to everyone).
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            os.kill(guardian.pid, signum)
        time.sleep(0.2)
        assert not _gone(guardian.pid) and guardian.workdir.is_dir()
    assert _gone(guardian.pid)
    assert list(tmp_path.iterdir()) == []
