"""The resources and their managed Secrets, listed and watched straight into the runtime.

These two collections are the operator's bulk (one of each per resource), and their events
only need to reach a cache and the work queue, so they bypass kopf (kube/watch.py says why).
Per event:
- a resource, listed / added / modified: the gate learns which tenant it names and which
  client id its status records (ownership); the runtime keeps its copy and queues it if a
  pass should look;
- a resource deleted: both forget it;
- a managed Secret: the controller's copy (SecretCache) is kept; a change we did not write, or
  a deletion, queues the owning resource. A listing or ADDED does not: at start-up every
  Secret arrives so, and the passes verify them anyway (from the copy just kept); waking them
  all would trade the per-tenant list for one GET per resource.

`list()` reads the Secrets first, then the resources, before any worker runs: the first
passes find every Secret in the cache (no GET) and every recorded claim in the gate. The
Secrets that are not ours are watched too, by name only (metadata, never data): a first
create then knows without a GET whether its Secret's name is free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from ..api.clients import (
    GROUP,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    OWNER_UID_LABEL,
    PLURAL,
    VERSION,
)
from ..kube.http import KubeHttp, segment
from ..kube.watch import DELETED, LISTED, MODIFIED, Informer, WatchTiming
from .gate import Gate
from .workers import Runtime


def collection_paths(namespaces: Sequence[str]) -> tuple[list[str], list[str]]:
    """(resource paths, Secret paths): one per watched namespace, or one cluster-wide."""
    base = f"/apis/{GROUP}/{VERSION}"
    if not namespaces:
        return [f"{base}/{PLURAL}"], ["/api/v1/secrets"]
    return ([f"{base}/namespaces/{segment(ns)}/{PLURAL}" for ns in namespaces],
            [f"/api/v1/namespaces/{segment(ns)}/secrets" for ns in namespaces])


class ResourceStreams:
    def __init__(self, http: KubeHttp, runtime: Runtime, gate: Gate,
                 namespaces: Sequence[str], timing: WatchTiming) -> None:
        self._runtime = runtime
        self._gate = gate
        resources, secrets = collection_paths(namespaces)
        self._secrets = [Informer(http, path, self.secret_event, timing=timing,
                                  label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")
                         for path in secrets]
        # Every other Secret, by name only (metadata: never its data): whether a name a
        # first create wants is taken is then known without a GET (SecretCache.known_absent).
        self._foreign = [Informer(http, path, self.foreign_secret_event, timing=timing,
                                  label_selector=f"{MANAGED_BY_LABEL}!={MANAGED_BY_VALUE}",
                                  metadata_only=True)
                         for path in secrets]
        self._resources = [Informer(http, path, self.resource_event, timing=timing)
                           for path in resources]

    async def list(self) -> tuple[int, int, int]:
        """Every managed Secret, the other Secrets' names, then every resource.
        Returns (resources, managed Secrets, other Secrets)."""
        secrets = sum([await informer.list() for informer in self._secrets])
        foreign = sum([await informer.list() for informer in self._foreign])
        self._runtime.controller.secrets.complete = True
        resources = sum([await informer.list() for informer in self._resources])
        return resources, secrets, foreign

    async def run(self) -> None:
        """Watch every collection until cancelled."""
        await asyncio.gather(*(informer.run() for informer in [*self._secrets, *self._foreign,
                                                               *self._resources]))

    def resource_event(self, kind: str, body: Mapping[str, Any]) -> None:
        uid = str((body.get("metadata") or {}).get("uid") or "")
        if kind == DELETED:
            self._gate.resource_gone(uid)
            self._runtime.gone(uid)
            return
        self._gate.observe_resource(body)
        self._runtime.observe(body)

    def foreign_secret_event(self, kind: str, body: Mapping[str, Any]) -> None:
        cache = self._runtime.controller.secrets
        if kind == DELETED:
            self._wake(cache.foreign_gone(body))
        else:
            cache.foreign_seen(body)

    def _wake(self, uids: set[str]) -> None:
        """Resources blocked by a Secret that just went (SecretConflict): try again now."""
        for uid in uids:
            self._runtime.poke(uid)

    def secret_event(self, kind: str, body: Mapping[str, Any]) -> None:
        controller = self._runtime.controller
        if kind == DELETED:
            self._wake(controller.secret_gone(body))
        else:
            controller.secret_seen(body)
        meta = body.get("metadata") or {}
        owner_uid = (meta.get("labels") or {}).get(OWNER_UID_LABEL)
        if owner_uid is None or kind == LISTED:
            return
        if kind == DELETED or (
            kind == MODIFIED
            and not controller.wrote_secret_version(owner_uid, meta.get("resourceVersion"))
        ):
            self._runtime.poke(owner_uid)
