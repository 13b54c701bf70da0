"""One remote client, one owning resource: which ClientCredentialClient holds which client id.

A resource holds a client id once its status records it (status.tenantId + status.clientId,
seen in the watch or the start-up LIST) or, in between, once this process granted it the id
for the pass that records it. The check and the grant are one synchronous step on the event
loop, so two resources created at once with one id get exactly one owner. The start-up LIST
runs before any watch starts (a kopf startup handler), so no event can be older than it.
Recorded claims outlive restarts; if two resources ever recorded the same id, the oldest keeps
it (policy.owner), on every pass and after every restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import policy

ClaimKey = tuple[str, str]  # (tenant id, client id)


class ClaimIndex:
    def __init__(self) -> None:
        self._recorded: dict[ClaimKey, dict[str, str]] = {}  # key -> uid -> creationTimestamp
        self._recorded_of: dict[str, ClaimKey] = {}
        self._pending: dict[ClaimKey, str] = {}
        self._pending_of: dict[str, ClaimKey] = {}
        self._refused: dict[ClaimKey, set[str]] = {}
        self.freed: list[Callable[[str], None]] = []  # told of each refused uid when it frees

    def observe_body(self, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        status = body.get("status") or {}
        self.observe(str(meta.get("uid") or ""), str(meta.get("creationTimestamp") or ""),
                     status.get("tenantId"), status.get("clientId"))

    def observe(self, uid: str, created: str, tenant_id: str | None,
                client_id: str | None) -> None:
        """What a resource's status records (from the watch or the start-up LIST)."""
        key = (tenant_id, client_id) if tenant_id and client_id else None
        old = self._recorded_of.get(uid)
        if old == key:
            return
        if old is not None:
            self._drop_recorded(uid, old)
        if key is not None:
            self._recorded.setdefault(key, {})[uid] = created
            self._recorded_of[uid] = key
            if self._pending.get(key) == uid:
                self.release(uid)

    def forget(self, uid: str) -> None:
        """The resource is gone."""
        self.release(uid)
        old = self._recorded_of.get(uid)
        if old is not None:
            self._drop_recorded(uid, old)
        for refused in self._refused.values():
            refused.discard(uid)

    def client_ids(self, tenant_id: str) -> set[str]:
        """Every client id held in a tenant (recorded or granted): what to verify there."""
        return {c for (t, c) in (*self._recorded, *self._pending) if t == tenant_id}

    def holder(self, key: ClaimKey) -> str | None:
        recorded = self._recorded.get(key)
        if recorded:
            return policy.owner((created, uid) for uid, created in recorded.items())
        return self._pending.get(key)

    def claim(self, key: ClaimKey, uid: str) -> bool:
        """Grant `uid` the client id unless another resource holds it (then remember the
        refusal, to re-evaluate `uid` when the id frees)."""
        holder = self.holder(key)
        if holder is None:
            self.release(uid)
            self._pending[key] = uid
            self._pending_of[uid] = key
            return True
        if holder == uid:
            return True
        self._refused.setdefault(key, set()).add(uid)
        return False

    def release(self, uid: str) -> None:
        """Drop a grant that was never recorded (the pass was refused for another reason)."""
        key = self._pending_of.pop(uid, None)
        if key is not None and self._pending.get(key) == uid:
            del self._pending[key]
            self._wake_refused(key)

    def _drop_recorded(self, uid: str, key: ClaimKey) -> None:
        del self._recorded_of[uid]
        holders = self._recorded.get(key, {})
        holders.pop(uid, None)
        if not holders:
            self._recorded.pop(key, None)
            if key not in self._pending:
                self._wake_refused(key)

    def _wake_refused(self, key: ClaimKey) -> None:
        for uid in self._refused.pop(key, set()):
            for listener in self.freed:
                listener(uid)
