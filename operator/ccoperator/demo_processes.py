"""What `ccoperator demo` starts and writes, gone however the demo ends.

- Ctrl-C, SIGTERM and SIGHUP (a closed terminal, `timeout`, a process manager) raise `Stopped`
  in the main thread, so every `with` block unwinds as it does on Ctrl-C.
- Every child (operator, simulator, etcd, kube-apiserver, kube-controller-manager) gets
  PR_SET_PDEATHSIG=SIGKILL, so SIGKILL of the demo takes them along.
- The demo's temp dir (control plane PKI and etcd data, simulator, operator log) is made and
  held by a `Guardian`: a small process in its own session (no terminal or process-group
  signal reaches it) that, when its stdin pipe closes, that is when the demo has ended for
  whatever reason, kills what is left of the registered children and removes the dir.

`python -m ccoperator.demo_processes` is the guardian itself; standard library only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

WORKDIR_PREFIX = "ccoperator-demo."
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; a KeyboardInterrupt, so it unwinds exactly like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise `Stopped`; only the first one, so a second
    signal does not cut the clean-up short (the guardian is there for SIGKILL). A signal
    ignored when we start stays ignored (`nohup ccoperator demo` survives a closed terminal)."""
    stopping = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS
                if signal.getsignal(sig) != signal.SIG_IGN}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


def die_by(signum: int) -> None:
    """End this process by `signum`'s default action, so the parent (a shell, make, a
    process manager) sees what stopped it; the clean-up has run by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


class Guardian:
    """The guardian process, seen from the demo: `workdir` is the dir it made and removes."""

    def __init__(self, proc: subprocess.Popen[str], workdir: Path) -> None:
        self._proc = proc
        self.workdir = workdir

    @classmethod
    def start(cls) -> Guardian:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ccoperator.demo_processes"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            # Its own session: outlives a SIGKILLed demo and gets no group or terminal signal.
            start_new_session=True)
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        proc.stdout.close()
        if not line:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the demo's guardian did not start (exit {proc.returncode})")
        return cls(proc, Path(line))

    @property
    def pid(self) -> int:
        return self._proc.pid

    def watch(self, *pids: int | None) -> None:
        """Kill these (process groups) if they are still there when the demo ends."""
        assert self._proc.stdin is not None
        with contextlib.suppress(OSError):  # guardian gone: the demo's own clean-up remains
            self._proc.stdin.write("".join(f"{pid}\n" for pid in pids if pid))
            self._proc.stdin.flush()

    def close(self) -> None:
        """The demo cleaned up itself: the guardian checks, removes the dir if left, exits."""
        assert self._proc.stdin is not None
        with contextlib.suppress(OSError):
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # It stays in charge of the dir; killing it would leave the dir behind.
            print(f"[demo] the guardian (pid {self._proc.pid}) is still cleaning up",
                  file=sys.stderr)

    def __enter__(self) -> Guardian:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# ---- the guardian process -------------------------------------------------------------------

def _start_time(pid: int) -> int | None:
    """When `pid` started (None: gone, or a zombie), to tell it from a later one on its pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name may hold spaces and parentheses
    return None if fields[0] == "Z" else int(fields[19])


def _kill_leftovers(watched: dict[int, int]) -> None:
    """SIGKILL the process groups still led by a watched child, and wait until they are gone
    (their files may still be written to until then)."""
    for pid, started in watched.items():
        if _start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
            _start_time(pid) == started for pid, started in watched.items()):
        time.sleep(0.05)


def _remove(folder: Path) -> None:
    for _ in range(20):  # a dying child may still add a file while the tree is removed
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.1)


def guard(commands: IO[str], announce: IO[str]) -> None:
    """Make the dir, say where, note each pid read from `commands`; at its end clean up."""
    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    watched: dict[int, int] = {}
    try:
        print(workdir, file=announce, flush=True)
        for line in commands:  # ends when the demo closes the pipe or dies
            with contextlib.suppress(ValueError):
                pid = int(line)
                started = _start_time(pid)
                if started is not None:
                    watched[pid] = started
    finally:
        _kill_leftovers(watched)
        _remove(workdir)


if __name__ == "__main__":
    # Only the pipe's end may stop it (SIGKILL aside): e.g. a service manager that sends
    # SIGTERM to every process and SIGKILL later must find it still waiting for the demo.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError):
        guard(sys.stdin, sys.stdout)
