"""The work queue: keys in, keys out to a bounded pool of workers (controller-runtime's shape).

- a key added while it waits is queued once (dedup);
- a key is never handed to two workers at once: added while a worker holds it, it is marked
  dirty and queued again when that worker is done;
- delayed adds (resyncs, rotation deadlines, retries) go through one `TimerHeap`;
- failures requeue with per-key exponential backoff (`RateLimiter`), never sooner than a
  `Retry-After` the service asked for;
- depth is bounded: a new key beyond `max_depth` is deferred through the timer, not dropped.
Pure asyncio: no Kubernetes, no kopf (unit-tested on its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from .timers import TimerHeap

K = TypeVar("K", bound=Hashable)

DEFER_DELAY = 1.0  # a key beyond max_depth tries again after this long


class RateLimiter(Generic[K]):
    """Per-key exponential backoff: the n-th failure in a row waits up to base * 2**n (capped),
    drawn from [ceiling/2, ceiling] so that keys failing together do not retry together."""

    def __init__(self, *, base: float = 2.0, cap: float = 300.0,
                 rand: Callable[[float, float], float] = random.uniform) -> None:
        self.base = base
        self.cap = cap
        self._rand = rand
        self._failures: dict[K, int] = {}

    def failures(self, key: K) -> int:
        return self._failures.get(key, 0)

    def next_delay(self, key: K, retry_after: float | None = None) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        ceiling = min(self.cap, self.base * (2 ** min(n, 32)))
        delay = self._rand(ceiling / 2, ceiling)
        if retry_after is not None:
            # The service said when to come back (429/503 Retry-After): never sooner.
            delay = max(delay, min(retry_after, self.cap))
        return delay

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def clear(self) -> None:
        self._failures.clear()


class WorkQueue(Generic[K]):
    def __init__(self, *, max_depth: int = 0, limiter: RateLimiter[K] | None = None,
                 on_depth: Callable[[int], None] | None = None) -> None:
        self.max_depth = max_depth  # 0: unbounded
        self.limiter: RateLimiter[K] = limiter if limiter is not None else RateLimiter()
        self.timers: TimerHeap[K] = TimerHeap(self._timer_fired)
        self._on_depth = on_depth
        self._order: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.deferred = 0  # adds postponed because the queue was full

    # ------------------------------------------------------------------------ adding

    def add(self, key: K) -> None:
        if key in self._queued or key in self._dirty:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        if self.max_depth and len(self._order) >= self.max_depth:
            self.deferred += 1
            self.timers.schedule(key, DEFER_DELAY, replace=False)
            return
        self.timers.cancel(key)  # it runs now: a pending deadline would only run it again
        self._queued.add(key)
        self._order.append(key)
        self._report()
        self._notify()

    def add_after(self, key: K, delay: float, *, jitter: float = 0.0,
                  replace: bool = False) -> None:
        if delay <= 0:
            self.add(key)
        else:
            self.timers.schedule(key, delay, jitter=jitter, replace=replace)

    def add_rate_limited(self, key: K, retry_after: float | None = None) -> float:
        delay = self.limiter.next_delay(key, retry_after)
        self.timers.schedule(key, delay, replace=True)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts the backoff from the bottom again."""
        self.limiter.forget(key)

    def discard(self, key: K) -> None:
        """The object is gone: no pending deadline, no backoff (a queued key stays queued;
        its worker finds nothing to do)."""
        self.timers.cancel(key)
        self.limiter.forget(key)
        self._dirty.discard(key)

    def _timer_fired(self, key: K) -> None:
        self.add(key)

    # ------------------------------------------------------------------------ taking

    async def get(self) -> K:
        """The next key; the caller holds it until `done(key)`."""
        while not self._order:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                if waiter.done() and not waiter.cancelled():
                    self._notify()  # we were woken for a key we will not take: pass it on
                raise
        key = self._order.popleft()
        self._queued.discard(key)
        self._processing.add(key)
        self._report()
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    # ------------------------------------------------------------------------ looking

    def depth(self) -> int:
        return len(self._order)

    def processing(self) -> int:
        return len(self._processing)

    def __contains__(self, key: object) -> bool:
        return key in self._queued or key in self._dirty

    def _report(self) -> None:
        if self._on_depth is not None:
            self._on_depth(len(self._order))

    def _notify(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
