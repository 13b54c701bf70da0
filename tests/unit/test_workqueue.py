"""The work queue, its rate limiter and the timer heap: pure asyncio, no Kubernetes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from ccoperator.controller.queue import DEFER_DELAY, RateLimiter, WorkQueue
from ccoperator.controller.timers import TimerHeap, jittered


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro_fn: Callable[[], object]) -> None:
    asyncio.run(coro_fn())  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the queue


def test_a_key_added_while_queued_is_queued_once() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        for key in ["a", "b", "a", "a", "c", "b"]:
            q.add(key)
        assert q.depth() == 3
        assert [await q.get() for _ in range(3)] == ["a", "b", "c"]
    run(main)


def test_a_key_is_never_held_by_two_workers() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        q.add("a")
        assert await q.get() == "a"
        q.add("a")  # added while a worker holds it: dirty, not queued
        assert q.depth() == 0 and "a" in q
        q.add("a")  # and still only once
        q.done("a")
        assert q.depth() == 1
        assert await q.get() == "a"
        q.done("a")
        assert q.depth() == 0 and "a" not in q
    run(main)


@pytest.mark.parametrize("seed", range(60))
def test_workers_never_overlap_on_a_key_and_every_add_is_served(seed: int) -> None:
    """Random interleavings of adds and workers (property-style, seeded): no key runs twice
    at once, and each key added is processed at least once after its last add."""
    rng = random.Random(seed)
    plan = [(rng.choice("abcd"), rng.randint(0, 3)) for _ in range(rng.randint(0, 40))]
    workers = rng.randint(1, 5)

    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        running: set[str] = set()
        last_add: dict[str, int] = {}
        last_start: dict[str, int] = {}
        step = 0

        async def worker() -> None:
            nonlocal step
            while True:
                key = await q.get()
                assert key not in running, f"{key} held by two workers"
                running.add(key)
                step += 1
                last_start[key] = step
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                running.discard(key)
                q.done(key)

        tasks = [asyncio.create_task(worker()) for _ in range(workers)]
        for key, pause in plan:
            step += 1
            last_add[key] = step
            q.add(key)
            for _ in range(pause):
                await asyncio.sleep(0)
        for _ in range(50):
            await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for key, added in last_add.items():
            assert last_start.get(key, -1) > added or key in running, key
    run(main)


def test_depth_beyond_the_bound_is_deferred_not_dropped() -> None:
    async def main() -> None:
        depths: list[int] = []
        q: WorkQueue[str] = WorkQueue(max_depth=2, on_depth=depths.append)
        for key in "abc":
            q.add(key)
        assert q.depth() == 2 and q.deferred == 1
        assert q.timers.deadline("c") is not None
        assert depths[-1] == 2
        await q.get()
        assert depths[-1] == 1
    run(main)


def test_a_cancelled_waiter_passes_its_wakeup_on() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        first = asyncio.create_task(q.get())
        second = asyncio.create_task(q.get())
        await asyncio.sleep(0)
        q.add("a")
        first.cancel()
        await asyncio.sleep(0)
        assert await asyncio.wait_for(second, 1.0) == "a"
    run(main)


# ---------------------------------------------------------------------- backoff


@pytest.mark.parametrize(("failures", "retry_after", "low", "high"), [
    (0, None, 1.0, 2.0),        # first failure: up to base
    (1, None, 2.0, 4.0),
    (4, None, 16.0, 32.0),
    (20, None, 150.0, 300.0),   # capped
    (0, 30.0, 30.0, 30.0),      # Retry-After is a floor
    (4, 10.0, 16.0, 32.0),      # ... that backoff may exceed
    (0, 9999.0, 300.0, 300.0),  # but never past the cap
])
def test_backoff_is_exponential_per_key_with_retry_after(
        failures: int, retry_after: float | None, low: float, high: float) -> None:
    limiter: RateLimiter[str] = RateLimiter(base=2.0, cap=300.0)
    for _ in range(failures):
        limiter.next_delay("k")
    limiter.next_delay("other")  # another key's failures do not count
    delay = limiter.next_delay("k", retry_after)
    assert low <= delay <= high
    limiter.forget("k")
    assert limiter.failures("k") == 0 and limiter.failures("other") == 1


def test_add_rate_limited_schedules_the_backoff() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue(limiter=RateLimiter(rand=lambda lo, hi: hi))
        assert q.add_rate_limited("k") == 2.0
        assert q.add_rate_limited("k") == 4.0
        assert q.add_rate_limited("k", retry_after=60.0) == 60.0
        assert q.depth() == 0 and "k" in q.timers
    run(main)


# ---------------------------------------------------------------------- timers


def test_timers_fire_in_deadline_order_and_replace_or_keep_earliest() -> None:
    clock = FakeClock()
    fired: list[str] = []
    heap: TimerHeap[str] = TimerHeap(fired.append, clock=clock)
    heap.schedule("late", 30)
    heap.schedule("soon", 10)
    heap.schedule("soon", 20, replace=False)  # keeps the earlier 10
    heap.schedule("late", 5, replace=False)   # an earlier one wins
    heap.schedule("moved", 1)
    heap.schedule("moved", 25)                # replace: the pass decided anew
    heap.schedule("gone", 2)
    heap.cancel("gone")
    clock.now += 9
    assert heap.pop_due() == ["late"]
    clock.now += 100
    assert heap.pop_due() == ["soon", "moved"]
    assert len(heap) == 0 and heap.next_deadline() is None


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5])
def test_jitter_stays_within_its_fraction(fraction: float) -> None:
    rng = random.Random(7)
    values = [jittered(600.0, fraction, rng.uniform) for _ in range(2000)]
    assert all(600 * (1 - fraction) <= v <= 600 * (1 + fraction) for v in values)
    if fraction:
        # Spread over the whole window, not bunched: a resync wave is smoothed.
        assert max(values) - min(values) > 600 * fraction * 1.8


def test_one_task_fires_due_keys_into_the_queue() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        runner = asyncio.create_task(q.timers.run())
        q.add_after("b", 0.05)
        q.add_after("a", 0.01)
        q.add_after("now", 0)
        assert q.depth() == 1
        got = [await asyncio.wait_for(q.get(), 1.0) for _ in range(3)]
        assert got == ["now", "a", "b"]
        runner.cancel()
    run(main)


def test_a_queued_key_drops_its_pending_deadline() -> None:
    async def main() -> None:
        q: WorkQueue[str] = WorkQueue()
        q.add_after("k", 600)
        q.add("k")  # runs now; its pass decides the next deadline
        assert "k" not in q.timers
        assert DEFER_DELAY > 0
    run(main)
