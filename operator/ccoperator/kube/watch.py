"""List, then watch, one collection of the API server: the informer of client-go, small.

kopf delivered these events before, through its per-object machinery (a worker task, causes,
handler selection and loggers for every object): 46.5% of the operator's CPU in a restart over
10,000 resources (docs/PERFORMANCE.md). A collection whose events only need to reach a cache
and a queue is read here instead:

- `list()` reads the collection in pages and hands each object to `on_event` as it arrives
  (type `LISTED` the first time), remembering the list's resourceVersion;
- `run()` watches from that version (with bookmarks, so a quiet collection still moves the
  version forward) and hands each ADDED / MODIFIED / DELETED object on; the stream is opened
  again where it ended; a version the server no longer has (410 Gone) means a new list, whose
  differences to what was known come out as ADDED, MODIFIED and DELETED events.

Only a little is remembered per object (uid, resourceVersion, labels): enough to tell a
relist's changes and to say which object a missed deletion was.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .http import METADATA, METADATA_LIST, KubeApiError, KubeHttp

log = logging.getLogger("ccoperator.watch")

LISTED, ADDED, MODIFIED, DELETED = "LISTED", "ADDED", "MODIFIED", "DELETED"

EventHandler = Callable[[str, dict[str, Any]], None]
_Key = tuple[str, str]  # (namespace, name)


class Expired(Exception):
    """The server no longer has the version a watch asked for (410 Gone): list again."""


@dataclass(frozen=True)
class _Known:
    uid: str
    resource_version: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class WatchTiming:
    # The server ends each watch after about this long (it picks within [t, 2t)); a new one
    # starts where it left off.
    server_timeout: int = 300
    # Silence longer than this on an open stream means a dead connection. Bookmarks arrive
    # about once a minute, so a healthy stream is never this quiet.
    read_timeout: float = 360.0
    # After a failure: 0.5 s, doubling up to 30 s (with jitter), back to 0.5 s once a watch
    # delivered something.
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


class Informer:
    """One collection (`path`, optionally narrowed by a label selector). Create it on the
    event loop that will run it; `on_event` is called on that loop, never concurrently."""

    def __init__(self, http: KubeHttp, path: str, on_event: EventHandler, *,
                 label_selector: str | None = None, timing: WatchTiming | None = None,
                 page_size: int = 500, on_relist: Callable[[], None] | None = None,
                 metadata_only: bool = False) -> None:
        self._http = http
        self.path = path
        self._on_event = on_event
        self._selector = label_selector
        self._timing = timing or WatchTiming()
        self._page_size = page_size
        self._on_relist = on_relist
        self._known: dict[_Key, _Known] = {}
        self.resource_version: str | None = None
        self._last_event = float("-inf")  # when a watch last delivered an event (monotonic)
        # Metadata only: the objects' names, labels and versions, never their data (for
        # Secrets that are not ours, whose names are all we need).
        self._accept = (METADATA_LIST, METADATA) if metadata_only else (None, None)

    def __len__(self) -> int:
        return len(self._known)

    # ------------------------------------------------------------------ list

    async def list(self) -> int:
        """Read the whole collection; the first time every object is `LISTED`. Later (a
        relist) only differences are handed on: new objects ADDED, changed ones MODIFIED,
        vanished ones DELETED (with the little that is known of them). Returns the count."""
        # A first list that failed half-way left some objects known: the retry tells
        # differences, so none is lost and none is deleted unseen.
        first = self.resource_version is None and not self._known
        before = dict(self._known)
        fresh: dict[_Key, _Known] = {}
        token = ""
        version = ""
        try:
            while True:
                query = {"limit": str(self._page_size)}
                if token:
                    query["continue"] = token
                if self._selector:
                    query["labelSelector"] = self._selector
                page = await self._http.request_json("GET", f"{self.path}?{urlencode(query)}",
                                                     accept=self._accept[0])
                meta = page.get("metadata") or {}
                # The version of the whole list is the first page's: later pages are served
                # from that same snapshot.
                version = version or str(meta.get("resourceVersion") or "")
                for body in page.get("items") or []:
                    key = _key(body)
                    known = fresh[key] = _known_of(body)
                    old = before.pop(key, None)
                    if first:
                        self._emit(LISTED, body)
                    elif old is None or old.uid != known.uid:
                        if old is not None:  # deleted and created again under the name
                            self._emit(DELETED, _stub(key, old))
                        self._emit(ADDED, body)
                    elif old.resource_version != known.resource_version:
                        self._emit(MODIFIED, body)
                token = str(meta.get("continue") or "")
                if not token:
                    break
        except BaseException:
            self._known = {**before, **fresh}
            raise
        for key, old in before.items():
            self._emit(DELETED, _stub(key, old))
        self._known = fresh
        self.resource_version = version
        return len(self._known)

    # ------------------------------------------------------------------ watch

    async def run(self) -> None:
        """Watch until cancelled (list first if `list()` was not called)."""
        delay = self._timing.backoff_initial
        while True:
            opened = time.monotonic()
            try:
                if self.resource_version is None:
                    await self.list()
                delivered = await self._watch_once()
                if delivered or time.monotonic() - opened >= 1.0:
                    delay = self._timing.backoff_initial
                    continue  # the server ended a healthy stream: open the next one at once
                # Ended at once without a word (a proxy closing it?): not in a tight loop.
            except Expired:
                log.info("%s: resourceVersion %s is gone; listing again", self.path,
                         self.resource_version)
                if self._on_relist is not None:
                    self._on_relist()
                try:
                    await self.list()
                    continue
                except KubeApiError as exc:
                    self.resource_version = None  # list again on the next round
                    log.warning("%s: list failed (%s); retrying in %.1fs", self.path, exc, delay)
            except KubeApiError as exc:
                if self._delivered_since(opened):
                    delay = self._timing.backoff_initial  # it worked until now: a new failure
                log.warning("%s: watch failed (%s); retrying in %.1fs", self.path, exc, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # jitter only
            delay = min(delay * 2, self._timing.backoff_max)

    async def _watch_once(self) -> bool:
        """One watch stream, until the server ends it. True if it delivered anything."""
        query = {"watch": "1", "allowWatchBookmarks": "true",
                 "timeoutSeconds": str(self._timing.server_timeout),
                 "resourceVersion": self.resource_version or ""}
        if self._selector:
            query["labelSelector"] = self._selector
        delivered = False
        try:
            async for line in self._http.stream(f"{self.path}?{urlencode(query)}",
                                                read_timeout=self._timing.read_timeout,
                                                accept=self._accept[1]):
                try:
                    event = json.loads(line)
                except ValueError:
                    # A broken line (the connection dropped mid-event): open the stream
                    # again. `from None`: the decoder's error carries the line, i.e. data.
                    raise KubeApiError(None, "watch event is not JSON", method="GET",
                                       path=self.path) from None
                self._dispatch(event)
                delivered = True
        except KubeApiError as exc:
            if exc.status == 410:
                raise Expired() from None
            raise
        return delivered

    def _dispatch(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        body = event.get("object") or {}
        if kind == "ERROR":
            if body.get("code") == 410:
                raise Expired()
            raise KubeApiError(body.get("code"), str(body.get("reason") or "watch error"),
                               method="GET", path=self.path)
        version = (body.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            if version:
                self.resource_version = str(version)
            return
        self._last_event = time.monotonic()
        if kind not in (ADDED, MODIFIED, DELETED):
            return
        key = _key(body)
        if kind == DELETED:
            self._known.pop(key, None)
        else:
            self._remember(body)
        if version:
            self.resource_version = str(version)
        self._emit(str(kind), body)

    def _delivered_since(self, moment: float) -> bool:
        return self._last_event >= moment

    def _emit(self, kind: str, body: dict[str, Any]) -> None:
        try:
            self._on_event(kind, body)
        except Exception:
            # A bug in a consumer must not end the watch of a whole collection (and with it
            # every later event); the object is handed on again at its next change.
            namespace, name = _key(body)
            log.exception("%s: handling %s of %s/%s failed", self.path, kind, namespace, name)

    def _remember(self, body: Mapping[str, Any]) -> None:
        self._known[_key(body)] = _known_of(body)


def _key(body: Mapping[str, Any]) -> _Key:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _known_of(body: Mapping[str, Any]) -> _Known:
    meta = body.get("metadata") or {}
    return _Known(uid=str(meta.get("uid") or ""),
                  resource_version=str(meta.get("resourceVersion") or ""),
                  labels=dict(meta.get("labels") or {}))


def _stub(key: _Key, known: _Known) -> dict[str, Any]:
    """What is known of an object whose deletion no watch event showed."""
    return {"metadata": {"namespace": key[0], "name": key[1], "uid": known.uid,
                         "resourceVersion": known.resource_version,
                         "labels": dict(known.labels)}}
