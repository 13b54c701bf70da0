"""The body of a Kubernetes Event about one object (core/v1 Event). Messages never hold
secret values (callers ensure)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

COMPONENT = "ccoperator"


def event_body(*, namespace: str, involved: dict[str, str], warning: bool, reason: str,
               message: str, now: datetime) -> dict[str, Any]:
    """`involved`: apiVersion, kind, name, uid (and namespace for a namespaced object).
    A cluster-scoped object's events live in `namespace` "default", as kubectl looks there."""
    stamp = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{involved['name']}.{uuid.uuid4().hex[:16]}",
                     "namespace": namespace},
        "involvedObject": involved,
        "type": "Warning" if warning else "Normal",
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
