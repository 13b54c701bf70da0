"""Managed Secrets as the watch last showed them, so verification passes need no GET.

A resync or a restart verifies every resource; reading each one's Secret with a GET costs one
Kubernetes request per resource and period, and most of the operator's CPU in those phases.
The Secret watch (controller/streams.py) already delivers every managed Secret, so its bodies
are kept here and verification reads them instead.

An entry is only used when it cannot be older than what this process wrote: after we write a
Secret, its entry counts only once the watch has shown that very resourceVersion. A change by
someone else that the watch has not delivered yet is seen when its event arrives (the event
wakes the resource's loop for a pass that GETs). Secrets without our label are watched by
name only (metadata, never data): once both watches have listed, a name neither knows is
absent, and a first create needs no GET of its Secret (`known_absent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api.secrets import SecretObject
from .secret_body import secret_from_body

_Key = tuple[str, str]  # (namespace, name)


class SecretCache:
    def __init__(self) -> None:
        self._bodies: dict[_Key, dict[str, Any]] = {}
        # Names of the other Secrets in the watched namespaces (a metadata-only watch of
        # those without our label): with both complete, a name in neither is absent.
        self._foreign: set[_Key] = set()
        self.complete = False  # both listed (streams.py), so a miss in both means absent
        # Names held by a Secret that is not the resource's own (SecretConflict) -> the
        # resources waiting for that name: its deletion wakes them.
        self._waiting: dict[_Key, set[str]] = {}

    def __len__(self) -> int:
        return len(self._bodies)

    @staticmethod
    def _key(body: Mapping[str, Any]) -> _Key:
        meta = body.get("metadata") or {}
        return str(meta.get("namespace", "")), str(meta.get("name", ""))

    def seen(self, body: Mapping[str, Any]) -> None:
        """The watch showed this body (initial listing, ADDED or MODIFIED)."""
        meta = body.get("metadata") or {}
        # Keep only what reading a SecretObject needs: a watch body also carries
        # managedFields, which are most of its size.
        self._bodies[self._key(body)] = {
            "metadata": {
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "labels": dict(meta.get("labels") or {}),
                "annotations": dict(meta.get("annotations") or {}),
                "ownerReferences": [dict(r) for r in meta.get("ownerReferences") or []],
                "resourceVersion": meta.get("resourceVersion"),
            },
            "data": dict(body.get("data") or {}),
        }

    def gone(self, body: Mapping[str, Any]) -> set[str]:
        """A watch event said DELETED. Returns the resources that were waiting for the name."""
        key = self._key(body)
        self._bodies.pop(key, None)
        return self._waiting.pop(key, set())

    def foreign_seen(self, body: Mapping[str, Any]) -> None:
        """A Secret without our label exists (metadata only: its data is never read)."""
        self._foreign.add(self._key(body))

    def foreign_gone(self, body: Mapping[str, Any]) -> set[str]:
        """Returns the resources that were waiting for the name."""
        key = self._key(body)
        self._foreign.discard(key)
        return self._waiting.pop(key, set())

    def wait_for(self, namespace: str, name: str, uid: str) -> None:
        """`uid` wants this Secret name, which another Secret holds (SecretConflict). An
        entry outlives a resource that stopped wanting the name: its only cost is one more
        pass when that Secret goes."""
        self._waiting.setdefault((namespace, name), set()).add(uid)

    def known_absent(self, namespace: str, name: str, *, wrote_version: str | None) -> bool:
        """True when no Secret of that name exists as far as the watches know, and nothing
        this process wrote there can be missing from them: a pass may then take "absent"
        without a GET. A Secret made since, not shown yet, still fails our create-only write
        (409), as it would after a GET that found nothing."""
        key = (namespace, name)
        return (self.complete and wrote_version is None and key not in self._bodies
                and key not in self._foreign)

    def get(
        self,
        namespace: str,
        name: str,
        owner_uid: str,
        secret_key: str,
        *,
        wrote_version: str | None,
    ) -> SecretObject | None:
        """The cached Secret, or None when it must be read from the API server.

        `wrote_version`: the resourceVersion this process last wrote to that Secret (None if
        none): an entry showing another version is older than our write, or newer and about to
        wake the loop; either way the caller reads fresh.
        """
        body = self._bodies.get((namespace, name))
        if body is None:
            return None
        if wrote_version is not None and body["metadata"]["resourceVersion"] != wrote_version:
            return None
        return secret_from_body(body, owner_uid, secret_key)
