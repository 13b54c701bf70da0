"""Crash points for the crash-safety tests: kill the process at a named step.

`CCOPERATOR_FAILPOINTS=after-create-answer,after-secret-write` makes the operator SIGKILL
itself when it reaches that step, exactly as an OOM kill or node loss would, so tests can
prove that a restart finishes the job without a duplicate or an orphan. Unset (always, in
production), `hit` is a set lookup.
"""

from __future__ import annotations

import logging
import os
import signal

ENV = "CCOPERATOR_FAILPOINTS"
AFTER_CREATE_ANSWER = "after-create-answer"  # the service answered the create; no Secret yet
AFTER_SECRET_WRITE = "after-secret-write"  # noqa: S105 - Secret written; status not yet
KNOWN = frozenset({AFTER_CREATE_ANSWER, AFTER_SECRET_WRITE})

_enabled = frozenset(p.strip() for p in os.environ.get(ENV, "").split(",") if p.strip())
_unknown = _enabled - KNOWN
if _unknown:
    raise SystemExit(f"{ENV}: unknown failpoints {sorted(_unknown)}; known: {sorted(KNOWN)}")


def hit(name: str) -> None:
    if name in _enabled:
        logging.getLogger("ccoperator.failpoints").warning("failpoint %s: SIGKILL now", name)
        os.kill(os.getpid(), signal.SIGKILL)
