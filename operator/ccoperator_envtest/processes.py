"""Child processes that die with their parent, and free loopback ports.

Shared by the control plane, the simulator harness (``identity_sim.testing``) and
``ccoperator demo``; standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, AttributeError):
        # Resolved here, not in the forked child, so the child only makes one libc call.
        _prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent_preexec(*, forking_thread_outlives_child: bool = False
                            ) -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets SIGKILL when its parent dies,
    also when the parent is SIGKILLed (Linux PR_SET_PDEATHSIG; None elsewhere).

    The signal fires when the *thread* that forked exits, not the process: so it is armed only
    when forking from the main thread, or from a thread the caller knows outlives the child.
    """
    if _prctl is None:
        return None
    if not (forking_thread_outlives_child
            or threading.current_thread() is threading.main_thread()):
        return None
    parent = os.getpid()

    def arm() -> None:  # pragma: no cover - runs in the forked child
        assert _prctl is not None
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The parent may have died between fork() and prctl(): then no signal will come.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now.

    Racy by nature (free now, not necessarily when the child binds it): callers either retry
    on a failed bind or accept the rare failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
