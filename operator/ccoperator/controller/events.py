"""Kubernetes Events on resources, posted through the operator's own (fenced) client.

Not kopf.event: kopf posts from a queue of its own, later and unfenced, so a standby (or an old
leader resuming) could post after it lost the lease. Here a post is queued, and sent by one
task through `KubeApi`, whose write guard refuses it when this process does not lead; the
queue is emptied when leadership is lost. Messages never hold secret values (callers ensure).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..api.clients import API_VERSION, KIND
from ..kube import events as kube_events
from ..kube.api import KubeApi, KubeApiError
from .leader import NotLeading
from .view import ResourceView

log = logging.getLogger("ccoperator.events")

MAX_PENDING = 1000


def event_body(view: ResourceView, *, warning: bool, reason: str, message: str,
               now: datetime) -> dict[str, Any]:
    return kube_events.event_body(
        namespace=view.namespace,
        involved={"apiVersion": API_VERSION, "kind": KIND, "name": view.name,
                  "namespace": view.namespace, "uid": view.uid},
        warning=warning, reason=reason, message=message, now=now)


class EventPoster:
    # An event is posted this long after the pass queued it, not at once: the pass that
    # caused it still has its Secret and status to write, and an Event written alongside
    # competes with them for the API server and etcd (a single create's latency). Later
    # events are not held up by more than this: the wait counts from each one's queueing.
    DEFER_SECONDS = 0.05

    def __init__(self, kube: KubeApi, clock: Callable[[], float] = time.monotonic) -> None:
        self._kube = kube
        self._clock = clock
        self._pending: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue(MAX_PENDING)

    def __call__(self, view: ResourceView, *, warning: bool, reason: str, message: str) -> None:
        body = event_body(view, warning=warning, reason=reason, message=message,
                          now=datetime.now(UTC))
        try:
            self._pending.put_nowait((self._clock() + self.DEFER_SECONDS, body))
        except asyncio.QueueFull:
            log.warning("dropping event %s on %s/%s: too many pending", reason,
                        view.namespace, view.name)

    def clear(self) -> None:
        while not self._pending.empty():
            self._pending.get_nowait()

    async def run(self) -> None:
        while True:
            due, body = await self._pending.get()
            wait = due - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                await self._kube.post_event(body["metadata"]["namespace"], body)
            except NotLeading:
                self.clear()  # events of passes this process may no longer finish
            except KubeApiError as exc:
                log.warning("could not post event %s: %s", body["reason"], exc)
