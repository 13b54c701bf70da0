"""EventPoster: events leave a little after the pass that caused them, never piled up."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from ccoperator.controller.events import EventPoster
from ccoperator.controller.view import ResourceView
from ccoperator.kube.api import KubeApi


class RecordingKube:
    def __init__(self) -> None:
        self.posted: list[tuple[float, str]] = []

    async def post_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.posted.append((time.monotonic(), body["reason"]))


def view(name: str) -> ResourceView:
    return ResourceView(name=name, namespace="ns", uid=f"uid-{name}", generation=1, spec={},
                        status={}, annotations={})


async def test_each_event_waits_its_own_deferral_only() -> None:
    kube = RecordingKube()
    poster = EventPoster(cast(KubeApi, kube))
    task = asyncio.create_task(poster.run())
    try:
        queued = time.monotonic()
        for i in range(20):
            poster(view(f"r{i}"), warning=False, reason=f"Created{i}", message="m")
        async with asyncio.timeout(5):
            while len(kube.posted) < 20:
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert [reason for _, reason in kube.posted] == [f"Created{i}" for i in range(20)]
    first, last = kube.posted[0][0], kube.posted[-1][0]
    assert first - queued >= EventPoster.DEFER_SECONDS  # not during the pass that caused it
    # Twenty events queued at once wait one deferral together, not twenty in a row.
    assert last - queued < EventPoster.DEFER_SECONDS * 10
