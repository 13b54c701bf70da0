"""What the operator asked: a bounded log of calls and per-route status counters."""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .model import format_datetime

DEFAULT_MAX_ENTRIES = 100_000
DROPPED = "dropped"


class Call(NamedTuple):
    seq: int
    time: float  # simulator clock, epoch seconds
    method: str
    route: str
    path: str
    tenant_id: str | None
    client_id: str | None
    status: int | str  # "dropped" when no answer was sent
    caller: str | None
    fault: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "Seq": self.seq,
            "Time": format_datetime(datetime.fromtimestamp(self.time, UTC)),
            "Method": self.method,
            "Route": self.route,
            "Path": self.path,
            "TenantId": self.tenant_id,
            "ClientId": self.client_id,
            "Status": self.status,
            "Caller": self.caller,
            "Fault": self.fault,
        }


class CallLog:
    """The last `max_entries` calls (oldest dropped first); counters count every call."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.entries: deque[Call] = deque(maxlen=max_entries)
        self.counters: dict[str, dict[str, int]] = {}
        self.seq = 0

    def record(
        self,
        time: float,
        method: str,
        route: str,
        path: str,
        tenant_id: str | None,
        client_id: str | None,
        status: int | str,
        caller: str | None,
        fault: int | None,
    ) -> None:
        self.seq += 1
        self.entries.append(
            Call(self.seq, time, method, route, path, tenant_id, client_id, status, caller, fault)
        )
        per_route = self.counters.get(route)
        if per_route is None:
            per_route = self.counters[route] = {}
        key = str(status)
        per_route[key] = per_route.get(key, 0) + 1

    def since(self, seq: int) -> list[Call]:
        """Calls with `Seq` greater than `seq`, oldest first."""
        if not self.entries:
            return []
        first = self.entries[0].seq
        start = max(0, seq - first + 1)
        return list(itertools.islice(self.entries, start, None))

    def clear(self) -> None:
        self.entries.clear()
        self.counters.clear()
        # Seq keeps counting so that a reader holding an old `since` never sees reused numbers
