"""Custom resource definitions on a test cluster: waiting for one, and following them all.

The garbage collector of kube-controller-manager rediscovers resource types only every 30 s
(hard-coded), so objects owned by a custom resource whose CRD appeared after it started are
collected up to ~40 s late. ``CrdFollower`` watches the CRDs and calls back each time a new
one (or a newly served version) is Established, so the control plane can restart it (~1 s).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .base import Cluster, ControlPlaneError

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

# (name, served versions) of an Established CRD: what the garbage collector's discovery shows.
CrdKey = tuple[str, tuple[str, ...]]


def established_crds(items: Iterable[Any]) -> set[CrdKey]:
    """(name, served versions) of the Established CRDs among ``items``."""
    found = set()
    for crd in items:
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Established" and c.get("status") == "True"
               for c in conditions):
            served = tuple(sorted(v["name"] for v in crd["spec"]["versions"]
                                  if v.get("served")))
            found.add((crd["metadata"]["name"], served))
    return found


class CrdFollower:
    """A thread body: ``on_new()`` whenever a CRD becomes Established, until ``stopping``.

    One long watch request (so benchmarks reading the audit log see no polling); reconnects
    across apiserver restarts.
    """

    def __init__(self, connect: Callable[[float], http.client.HTTPSConnection],
                 on_new: Callable[[], None], stopping: threading.Event) -> None:
        self._connect = connect
        self._on_new = on_new
        self._stopping = stopping

    def _list(self) -> tuple[set[CrdKey], str]:
        conn = self._connect(10)
        try:
            conn.request("GET", CRD_PATH)
            listing = json.loads(conn.getresponse().read())
        finally:
            conn.close()
        return (established_crds(listing.get("items") or []),
                listing["metadata"]["resourceVersion"])

    def run(self) -> None:
        known: set[CrdKey] | None = None
        while not self._stopping.is_set():
            conn = None
            try:
                current, rv = self._list()
                # The first listing is what the just-started KCM discovers by itself.
                if known is not None and not current <= known:
                    self._on_new()
                known = current
                conn = self._connect(330)
                conn.request("GET", f"{CRD_PATH}?watch=1&resourceVersion={rv}"
                                    "&timeoutSeconds=300")
                for line in conn.getresponse():  # one JSON event per line
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    if event.get("type") == "DELETED":
                        name = (obj.get("metadata") or {}).get("name")
                        known = {k for k in known if k[0] != name}
                    elif established_crds([obj]) - known:
                        # Let the rest of a multi-CRD apply land, then restart once for all.
                        time.sleep(0.3)
                        known |= self._list()[0]
                        self._on_new()
            except Exception:  # apiserver restarting or stopping: retry, or end with stop()
                self._stopping.wait(0.5)
            finally:
                if conn is not None:
                    conn.close()


def wait_crd_established(cluster: Cluster, name: str, timeout: float = 60.0) -> None:
    """Wait until CRD `name` is Established.

    Not `kubectl wait --for=condition=Established`: right after the CRD is created its
    status.conditions may still be null, and kubectl then fails at once ("accessor error")
    instead of waiting.
    """
    deadline = time.monotonic() + timeout
    query = '{.status.conditions[?(@.type=="Established")].status}'
    while True:
        result = cluster.kubectl("get", "crd", name, "-o", f"jsonpath={query}", check=False)
        if result.returncode == 0 and result.stdout.strip() == "True":
            return
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"CRD {name} not Established after {timeout:.0f}s: "
                                    f"{result.stdout.strip() or result.stderr.strip()}")
        time.sleep(0.2)
