"""The processes of a control plane, and the promise that none outlives its owner.

A ``Component`` is one binary in its own session (so its whole process group can be killed),
logging to a file. Control planes register while they run: ``stop()`` runs from atexit and
SIGTERM/SIGHUP, and ``sweep_orphans()`` removes what an owner that was SIGKILLed left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from .base import ControlPlaneError
from .processes import die_with_parent_preexec

WORKDIR_PREFIX = "ccoperator-cp-"


class PortInUseError(ControlPlaneError):
    """A component could not bind a port another process took meanwhile: start it again."""


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass
class Component:
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
            raise PortInUseError(f"{self.name}: port taken")
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

_LIVE: set[Stoppable] = set()
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False


def register(plane: Stoppable) -> None:
    """Stop ``plane`` at exit or on SIGTERM/SIGHUP unless it is unregistered first."""
    _install_hooks()
    with _LIVE_LOCK:
        _LIVE.add(plane)


def unregister(plane: Stoppable) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(plane)


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


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans() -> None:
    """Remove temp dirs (and kill components) left by an owner that was SIGKILLed.

    The owner's pid is in ``owner.pid`` of its temp dir, its components' in ``component.pids``.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # being created right now, or not ours
        if pid_alive(owner):
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
