"""A kopf operator with no-op handlers: the memory baseline beside ccoperator.

Same kopf settings and the same watches as ccoperator (the resources, and the Secrets it
manages), handlers that do nothing. `--daemons` also runs one no-op daemon per resource, the
shape ccoperator has (one reconcile loop per resource), so the figure separates what kopf's
per-object daemon costs from what ccoperator adds on top.

    python -m tests.bench.noop_operator --namespaces a,b [--daemons] --status-file F

It writes `{"seen": n, "daemons": m}` to the status file once a second, so the benchmark knows
when every object has arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import kopf

GROUP, VERSION, PLURAL = "identity.ccoperator.io", "v1alpha1", "clientcredentialclients"
SEEN: set[str] = set()
DAEMONS: set[str] = set()


class NoDiffBase(kopf.DiffBaseStorage):
    """Every object always looks unchanged: nothing to diff, nothing stored."""

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self.build(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def register(daemons: bool) -> None:
    @kopf.on.startup()
    async def _configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # The baseline must write nothing. With a daemon per object kopf wants a finalizer:
        # ccoperator's own is on every object already. Without daemons kopf would REMOVE its
        # finalizer from objects that need none, so it gets one that is on no object.
        settings.persistence.finalizer = (f"{GROUP}/cleanup" if daemons
                                          else "bench.ccoperator.io/noop-unused")
        prefix = f"operator.{GROUP}"
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
        # As ccoperator: no diff-base, so kopf writes nothing to the objects (the default one
        # would PATCH a last-handled-configuration annotation onto every object it sees).
        settings.persistence.diffbase_storage = NoDiffBase()
        settings.posting.enabled = False
        settings.scanning.disabled = True
        settings.peering.standalone = True

    @kopf.on.event(GROUP, VERSION, PLURAL)
    async def _resource(body: kopf.Body, **_: Any) -> None:
        SEEN.add(body.get("metadata", {}).get("uid", ""))

    @kopf.on.event("v1", "secrets", labels={"app.kubernetes.io/managed-by": "ccoperator"})
    async def _secret(**_: Any) -> None:
        return None

    if daemons:
        @kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=5.0)
        async def _loop(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
            uid = body.get("metadata", {}).get("uid", "")
            DAEMONS.add(uid)
            try:
                await stopped.wait()
            finally:
                DAEMONS.discard(uid)


async def report(path: Path) -> None:
    while True:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"seen": len(SEEN), "daemons": len(DAEMONS),
                                   "pid": os.getpid()}))
        tmp.replace(path)
        await asyncio.sleep(1.0)


async def amain(args: argparse.Namespace) -> None:
    register(args.daemons)
    reporter = asyncio.create_task(report(Path(args.status_file)))
    try:
        await kopf.operator(namespaces=args.namespaces, clusterwide=False, standalone=True)
    finally:
        reporter.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.noop_operator")
    parser.add_argument("--namespaces", required=True, type=lambda s: s.split(","))
    parser.add_argument("--daemons", action="store_true")
    parser.add_argument("--status-file", required=True)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper())
    asyncio.run(amain(args))


if __name__ == "__main__":
    main()
