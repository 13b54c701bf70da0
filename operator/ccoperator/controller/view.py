"""A resource as a pass sees it, why the pass runs, and what it decided about the next one.

The watch keeps a trimmed copy of every ClientCredentialClient (`trimmed`: 10,000 copies stay
small); a pass reads it as a `ResourceView`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol


class Cause(StrEnum):
    CHANGE = "change"  # the resource or its Secret changed: read the remote client fresh
    RESUME = "resume"  # operator start: verify, reading from the tenant's paged list
    RESYNC = "resync"  # periodic: same as resume


@dataclass(frozen=True)
class ResourceView:
    """The parts of a ClientCredentialClient object the controller reads."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: dict[str, Any]
    status: dict[str, Any]
    annotations: dict[str, str]
    deleting: bool = False  # metadata.deletionTimestamp is set: only the finalizer acts
    finalizers: tuple[str, ...] = ()
    resource_version: str | None = None
    created: datetime | None = None  # metadata.creationTimestamp


@dataclass(frozen=True)
class Outcome:
    requeue_after: timedelta
    ready: bool


class EventSink(Protocol):
    def __call__(self, view: ResourceView, *, warning: bool, reason: str, message: str) -> None:
        ...


_KEPT_METADATA = ("name", "namespace", "uid", "generation", "resourceVersion", "annotations",
                  "finalizers", "deletionTimestamp", "creationTimestamp")


def trimmed(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a resource a pass reads (not managedFields, labels, ...)."""
    meta = body.get("metadata") or {}
    return {
        "metadata": {k: meta[k] for k in _KEPT_METADATA if k in meta},
        "spec": body.get("spec") or {},
        "status": body.get("status") or {},
    }


def view_of(body: Mapping[str, Any]) -> ResourceView:
    meta = body.get("metadata") or {}
    return ResourceView(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 0),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        annotations=dict(meta.get("annotations") or {}),
        deleting=meta.get("deletionTimestamp") is not None,
        finalizers=tuple(meta.get("finalizers") or ()),
        resource_version=meta.get("resourceVersion"),
        created=_timestamp(meta.get("creationTimestamp")),
    )


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
