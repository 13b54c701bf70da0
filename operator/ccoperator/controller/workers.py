"""Keys to reconciles: the watch cache, the work queue and a bounded pool of workers.

The resource streams (streams.py) keep the latest copy of every resource here and add its
key (the uid) to the queue when something that matters changed; timers add keys when a
resync, a rotation deadline or a retry falls due. Workers take keys; the queue guarantees that
one key is never held by two workers, so creation, update and deletion (the finalizer, also
handled here) of one object never race. Workers run only while this process leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from .. import metrics
from ..api.clients import FINALIZER, ROTATE_ANNOTATION, ManagementPolicy
from ..identity import IdentityError
from ..kube.api import KubeApi, KubeApiError, KubeConflict
from .events import EventPoster
from .finalize import CannotDelete
from .leader import Leadership, NotLeading
from .queue import WorkQueue
from .reconciler import Controller
from .view import Cause, ResourceView, trimmed, view_of

log = logging.getLogger("ccoperator.runtime")

RESYNC_JITTER = 0.1  # +-10%: spreads a resync wave so it does not hit the service at once
_PRIORITY = {Cause.CHANGE: 2, Cause.RESUME: 1, Cause.RESYNC: 0}


def _observe_only(view: ResourceView) -> bool:
    """managementPolicy: Observe: deleting the resource deletes nothing remote, so it needs
    no finalizer (a resource switched from Manage keeps the one it has). Read from the raw
    spec: this runs on every pass, before the spec is parsed."""
    return view.spec.get("managementPolicy") == ManagementPolicy.OBSERVE.value


def _mark(body: Mapping[str, Any]) -> tuple[int, str | None, bool]:
    """What a pass reacts to. Our own status writes change none of it, so they cause no pass."""
    meta = body.get("metadata") or {}
    return (int(meta.get("generation") or 0),
            (meta.get("annotations") or {}).get(ROTATE_ANNOTATION),
            meta.get("deletionTimestamp") is not None)


class Runtime:
    def __init__(self, controller: Controller, kube: KubeApi, *, resync: timedelta,
                 workers: int, max_queue_depth: int, leadership: Leadership,
                 events: EventPoster) -> None:
        self.controller = controller
        self._kube = kube
        self._resync = resync.total_seconds()
        self._workers = workers
        self.leadership = leadership
        self.events = events
        self.queue: WorkQueue[str] = WorkQueue(max_depth=max_queue_depth,
                                               limiter=controller.backoff,
                                               on_depth=metrics.QUEUE_DEPTH.set)
        self._bodies: dict[str, dict[str, Any]] = {}
        self._seen: dict[str, tuple[int, str | None, bool]] = {}
        self._causes: dict[str, Cause] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._active = False  # leading: workers run, changes are queued

    # ------------------------------------------------------------------ watch events

    def observe(self, body: Mapping[str, Any]) -> None:
        """A resource as the watch shows it (listed, added, modified)."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if not uid:
            return
        kept = self._bodies[uid] = trimmed(body)
        if not self._active:
            return  # a standby only keeps its copy warm; leading, it looks at every resource
        seen = self._seen.get(uid)
        if seen is None:
            # Not looked at yet (start, a new resource, or a new term as leader).
            self._add(uid, Cause.RESUME if kept["status"].get("clientId") else Cause.CHANGE,
                      "change")
        elif seen != _mark(kept):
            self._add(uid, Cause.CHANGE, "change")

    def declared(self) -> set[tuple[str, str]]:
        """(namespace, name) of every resource the watch shows (the orphan scan's view of
        what this cluster still declares)."""
        return {(b["metadata"].get("namespace", ""), b["metadata"].get("name", ""))
                for b in self._bodies.values()}

    def gone(self, uid: str) -> None:
        self._bodies.pop(uid, None)
        self._seen.pop(uid, None)
        self._causes.pop(uid, None)
        self.queue.discard(uid)

    def poke(self, uid: str) -> None:
        """Reconcile again soon with fresh reads (a change we did not make)."""
        if self._active and uid in self._bodies:
            self._add(uid, Cause.CHANGE, "change")

    def _add(self, uid: str, cause: Cause, why: str) -> None:
        pending = self._causes.get(uid)
        if pending is None or _PRIORITY[cause] > _PRIORITY[pending]:
            self._causes[uid] = cause
        metrics.QUEUE_ADDS.labels(why).inc()
        self.queue.add(uid)

    # ------------------------------------------------------------------ leadership

    def _started_leading(self) -> None:
        # What this process wrote in an earlier term may have been overwritten by another
        # leader since: start from what the watch shows, and look at every resource.
        self._active = True
        self.controller.reset()
        self._seen.clear()
        self._causes.clear()
        for uid, body in self._bodies.items():
            self._add(uid, Cause.RESUME if body["status"].get("clientId") else Cause.CHANGE,
                      "leading")
        for _ in range(self._workers):
            task = asyncio.create_task(self._worker())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        metrics.WORKERS.set(self._workers)

    def _stopped_leading(self) -> None:
        # In-flight passes stop at their next await; their writes were already refused by
        # the fence (the write guard) from the deadline on.
        self._active = False
        for task in list(self._tasks):
            task.cancel()
        self.events.clear()
        metrics.WORKERS.set(0)

    async def run(self) -> None:
        """The timer heap, the event poster and the workers (while leading), until cancelled."""
        helpers = [asyncio.create_task(self.queue.timers.run()),
                   asyncio.create_task(self.events.run()),
                   asyncio.create_task(self._report())]
        try:
            await self.leadership.run(self._started_leading, self._stopped_leading)
        finally:
            for task in [*helpers, *self._tasks]:
                task.cancel()
            for task in [*helpers, *self._tasks]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            # Only now, with no pass left in flight, may another replica take over.
            await self.leadership.release()

    async def _report(self) -> None:
        while True:
            metrics.QUEUE_TIMERS.set(len(self.queue.timers))
            await asyncio.sleep(5.0)

    # ------------------------------------------------------------------ workers

    async def _worker(self) -> None:
        while True:
            uid = await self.queue.get()
            self._busy += 1
            metrics.BUSY_WORKERS.set(self._busy)
            try:
                await self._process(uid)
            finally:
                self._busy -= 1
                metrics.BUSY_WORKERS.set(self._busy)
                self.queue.done(uid)

    async def _process(self, uid: str) -> None:
        body = self._bodies.get(uid)
        cause = self._causes.pop(uid, Cause.RESYNC)  # no cause recorded: a timer fell due
        if body is None:
            return  # deleted since it was queued
        view = view_of(body)
        self._seen[uid] = _mark(body)
        try:
            if view.deleting:
                await self._finalize(view)
                return
            if FINALIZER not in view.finalizers and not _observe_only(view):
                await self._add_finalizer(view, cause)
            outcome = await self.controller.reconcile(view, cause)
            metrics.observe_reconcile(cause, "ready" if outcome.ready else "not_ready")
        except NotLeading:
            return  # the next leader looks at every resource
        except KubeConflict as exc:
            log.info("%s/%s: %s; trying again", view.namespace, view.name, exc)
            self._causes.setdefault(uid, Cause.CHANGE)
            self.queue.add_rate_limited(uid)
            return
        except Exception:
            # A bug or an unforeseen failure must not stop this resource for good: log it
            # and retry with backoff, like any transient failure.
            log.exception("%s/%s: reconcile failed", view.namespace, view.name)
            metrics.observe_reconcile(cause, "error")
            metrics.QUEUE_RETRIES.inc()
            self.queue.add_rate_limited(uid)
            return
        finally:
            self.controller.drop_prefetched(uid)
        delay = outcome.requeue_after.total_seconds()
        jitter = RESYNC_JITTER if delay >= self._resync * (1 - RESYNC_JITTER) else 0.0
        self.queue.add_after(uid, delay, jitter=jitter, replace=True)

    async def _add_finalizer(self, view: ResourceView, cause: Cause) -> None:
        """Our finalizer, before any identity call and any other write: a resource deleted
        from here on waits for us. The Secret read a change pass starts with goes out at the
        same time (a read: nothing depends on its order against the PATCH); the pass itself,
        and every write of it, waits for the PATCH."""
        assert view.resource_version is not None
        patch = self._kube.set_finalizers(view.namespace, view.name, view.resource_version,
                                          [*view.finalizers, FINALIZER])
        if cause is not Cause.CHANGE:
            await patch
            return
        results = await asyncio.gather(patch, self.controller.prefetch_secret(view),
                                       return_exceptions=True)
        if isinstance(results[0], BaseException):
            raise results[0]
        # A failed read is not kept (prefetch_secret): the pass reads again itself.

    async def _finalize(self, view: ResourceView) -> None:
        if FINALIZER not in view.finalizers:
            return  # not ours to hold up (or already released)
        try:
            await self.controller.finalize(view)
        except (IdentityError, CannotDelete, KubeApiError) as exc:
            # Never dropped: the finalizer stays and we try again after a backoff.
            delay = self.queue.add_rate_limited(view.uid)
            metrics.QUEUE_RETRIES.inc()
            log.warning("%s/%s: deleting the remote client failed (%s); retrying in %.0fs",
                        view.namespace, view.name, exc, delay)
            return
        assert view.resource_version is not None
        await self._kube.set_finalizers(view.namespace, view.name, view.resource_version,
                                        [f for f in view.finalizers if f != FINALIZER])
        self.queue.forget(view.uid)
