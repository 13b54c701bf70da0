"""Per-object scheduling: one loop per resource, woken by changes, timers and retries.

Each resource gets one loop (a kopf daemon, see handlers.py). The loop is the only place that
reconciles that resource, so two reconciles of one object never run at once; watch events
only wake it. Deletion takes the same per-object lock, so a finalizer never races a create.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from . import metrics
from .controller import Cause, Controller, ResourceView

log = logging.getLogger("ccoperator.runtime")

RESYNC_JITTER = 0.1  # +-10%: spreads a resync wave so it does not hit the service at once
UNEXPECTED_ERROR_DELAY = 30.0


@dataclass
class _ObjectState:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    seen: tuple[int, str | None] | None = None  # (generation, rotate annotation) reconciled


class Runtime:
    def __init__(self, controller: Controller, resync: timedelta) -> None:
        self.controller = controller
        self._resync = resync
        self._objects: dict[str, _ObjectState] = {}

    def _state(self, uid: str) -> _ObjectState:
        state = self._objects.get(uid)
        if state is None:
            state = self._objects[uid] = _ObjectState()
        return state

    def poke(self, uid: str) -> None:
        """Wake the object's loop for a fresh reconcile (a change we did not make)."""
        state = self._objects.get(uid)
        if state is not None:
            state.wake.set()

    def resource_changed(self, uid: str, generation: int, rotate: str | None) -> None:
        """A watch event on the resource: wake the loop only for changes that matter.

        Our own status writes also arrive as events; they change neither the generation nor
        the rotate annotation, so they do not cause another pass.
        """
        state = self._objects.get(uid)
        if state is not None and state.seen is not None and state.seen != (generation, rotate):
            state.wake.set()

    async def run_object(
        self,
        read_view: Callable[[], ResourceView],
        rotate_of: Callable[[ResourceView], str | None],
        stopped: Callable[[float], Awaitable[bool]],
    ) -> None:
        """Reconcile until `stopped` says so. `stopped(timeout)` waits and tells if stopping."""
        view = read_view()
        state = self._state(view.uid)
        cause = Cause.RESUME if view.status.get("clientId") else Cause.CHANGE
        try:
            while True:
                state.wake.clear()
                async with state.lock:
                    # Read under the lock: the deletion handler may have run while we waited.
                    view = read_view()
                    if view.deleting:
                        return  # the deletion handler takes over; kopf stops daemons anyway
                    state.seen = (view.generation, rotate_of(view))
                    try:
                        outcome = await self.controller.reconcile(view, cause)
                        delay = outcome.requeue_after.total_seconds()
                        metrics.observe_reconcile(cause, "ready" if outcome.ready else "not_ready")
                    except Exception:
                        # A bug or an unforeseen failure must not end this object's loop:
                        # log it and try again later, like any transient failure.
                        log.exception("%s/%s: reconcile failed", view.namespace, view.name)
                        metrics.observe_reconcile(cause, "error")
                        delay = UNEXPECTED_ERROR_DELAY
                if delay >= self._resync.total_seconds() * (1 - RESYNC_JITTER):
                    delay *= random.uniform(1 - RESYNC_JITTER, 1 + RESYNC_JITTER)
                woken = await self._wait(state, stopped, delay)
                if woken is None:
                    return
                cause = Cause.CHANGE if woken else Cause.RESYNC
        finally:
            if not state.lock.locked():
                self._objects.pop(view.uid, None)

    async def _wait(
        self, state: _ObjectState, stopped: Callable[[float], Awaitable[bool]], delay: float
    ) -> bool | None:
        """True when woken, False when the delay passed, None when the loop must stop."""
        async def stopping() -> bool:
            return await stopped(delay)

        wake = asyncio.create_task(state.wake.wait())
        stop = asyncio.create_task(stopping())
        try:
            done, _ = await asyncio.wait({wake, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wake.cancel()
            stop.cancel()
        if stop in done and stop.result():
            return None
        return wake in done

    async def finalize(self, view: ResourceView) -> None:
        state = self._state(view.uid)
        async with state.lock:
            await self.controller.finalize(view)
        self._objects.pop(view.uid, None)
