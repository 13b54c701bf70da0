"""Shared by the Informer tests (tests/unit, tests/integration): run one in the background."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from ccoperator.kube.watch import Informer


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[asyncio.Task[None]]:
    """`informer.run()` as a task for the body of the `async with`, cancelled after it."""
    task = asyncio.create_task(informer.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
