"""One timer structure for every resource: resyncs, rotation deadlines, retries.

A heap of (deadline, key) and one task that sleeps until the earliest deadline, instead of a
sleeping task per object. Each key has at most one live deadline; an entry whose deadline
was replaced stays in the heap until it surfaces and is then skipped (lazy deletion), so
scheduling is O(log n) and never scans the heap.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


def jittered(delay: float, fraction: float, rand: Callable[[float, float], float]) -> float:
    """`delay` spread uniformly over +-fraction (a resync wave must not hit at once)."""
    if fraction <= 0 or delay <= 0:
        return delay
    return delay * rand(1 - fraction, 1 + fraction)


class TimerHeap(Generic[K]):
    """Calls `fire(key)` once each key's deadline has passed (on the event loop)."""

    def __init__(self, fire: Callable[[K], None], *,
                 clock: Callable[[], float] = time.monotonic,
                 rand: Callable[[float, float], float] = random.uniform) -> None:
        self._fire = fire
        self._clock = clock
        self._rand = rand
        self._heap: list[tuple[float, int, K]] = []
        self._due: dict[K, float] = {}
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def deadline(self, key: K) -> float | None:
        return self._due.get(key)

    def schedule(self, key: K, delay: float, *, jitter: float = 0.0,
                 replace: bool = True) -> float:
        """Fire `key` after `delay` seconds (+-`jitter` as a fraction of it).

        `replace`: this deadline replaces the key's current one (a pass just decided when to
        look next); otherwise the earlier of the two is kept (a retry must not postpone a
        resync that is due sooner, nor the reverse).
        """
        when = self._clock() + max(0.0, jittered(delay, jitter, self._rand))
        current = self._due.get(key)
        if current is not None and not replace and current <= when:
            return current
        self._due[key] = when
        heapq.heappush(self._heap, (when, next(self._seq), key))
        if self._heap[0][2] == key and self._heap[0][0] == when:
            self._wake.set()  # a new earliest deadline: the sleeper must wake sooner
        return when

    def cancel(self, key: K) -> None:
        self._due.pop(key, None)

    def pop_due(self) -> list[K]:
        """Keys whose deadline has passed, earliest first; they are no longer scheduled."""
        now = self._clock()
        fired: list[K] = []
        while self._heap and self._heap[0][0] <= now:
            when, _, key = heapq.heappop(self._heap)
            if self._due.get(key) == when:  # else: replaced or cancelled since
                del self._due[key]
                fired.append(key)
        self._compact()
        return fired

    def next_deadline(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def _compact(self) -> None:
        # Replaced entries would otherwise pile up when keys are rescheduled far ahead.
        if len(self._heap) > 2 * len(self._due) + 64:
            self._heap = [(w, s, k) for w, s, k in self._heap if self._due.get(k) == w]
            heapq.heapify(self._heap)

    async def run(self) -> None:
        """Fire keys as they fall due, until cancelled."""
        while True:
            self._wake.clear()
            for key in self.pop_due():
                self._fire(key)
            when = self.next_deadline()
            timeout = None if when is None else max(0.0, when - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
