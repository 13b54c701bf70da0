"""Several callers, one call: `SingleFlight` runs a coroutine once for all who ask meanwhile.

The token cache shares one token request this way, and the token endpoint one discovery.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """One call of `start` in flight at a time, shared by every caller that arrives while it
    runs. A caller being cancelled does not cancel the call the others wait for."""

    def __init__(self, start: Callable[[], Awaitable[T]]) -> None:
        self._start = start
        self._task: asyncio.Task[T] | None = None

    async def __call__(self) -> T:
        task = self._task
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._run())
            task.add_done_callback(self._finished)
            self._task = task
        return await asyncio.shield(task)

    async def _run(self) -> T:
        return await self._start()

    def _finished(self, task: asyncio.Task[T]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled():
            task.exception()  # retrieved here so an error no one waits for is not reported

    async def aclose(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

