"""Cost per change: Kubernetes writes and identity calls for one create, one no-op resync,
one spec update and one delete.

Kubernetes calls are counted from the API server's audit log, attributed to the operator by
its ServiceAccount (it runs under deploy/'s RBAC); identity calls from the simulator's call
log. Not part of `make test`:

    .venv/bin/python -m tests.bench.cost_per_change [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ccoperator_envtest.cluster import (
    ControlPlane,
    wait_crd_established,
    write_token_kubeconfig,
)
from identity_sim.testing import SimProcess

from tests.crd_fixtures import CRD_NAMES
from tests.e2e.support import REPO, Kube, OperatorProcess, wait_for

OPERATOR_USER = "system:serviceaccount:ccoperator-system:ccoperator"
WRITE_VERBS = {"create", "update", "patch", "delete"}
MEMBER = "6b1d0b52-0000-4000-8000-00000000e3e1"
RESYNC_SECONDS = 5


def operator_token(plane: ControlPlane) -> str:
    base = REPO / "deploy" / "base"
    plane.kubectl("create", "namespace", "ccoperator-system")
    plane.kubectl("create", "serviceaccount", "ccoperator", "-n", "ccoperator-system")
    plane.kubectl("apply", "-f", str(base / "clusterrole.yaml"),
                  "-f", str(base / "clusterrolebinding.yaml"))
    return plane.kubectl("create", "token", "ccoperator", "-n", "ccoperator-system",
                         "--duration=2h").stdout.strip()


class Meter:
    def __init__(self, plane: ControlPlane, sim: SimProcess) -> None:
        self.plane, self.sim = plane, sim
        self.audit_mark = 0
        self.sim_mark = 0

    def mark(self) -> None:
        time.sleep(1.0)  # the audit log is written asynchronously: let the last line land
        self.audit_mark = len(self.plane.audit_events())
        calls = self.sim.admin.calls()
        self.sim_mark = calls[-1]["Seq"] if calls else 0

    def read(self) -> dict[str, Any]:
        time.sleep(1.0)
        events = self.plane.audit_events()[self.audit_mark:]
        ours = [e for e in events if e.get("user", {}).get("username") == OPERATOR_USER]
        writes = Counter(
            f"{e['verb']} {e['objectRef'].get('resource', '')}"
            + (f"/{e['objectRef']['subresource']}" if e["objectRef"].get("subresource") else "")
            for e in ours if e.get("verb") in WRITE_VERBS
        )
        reads = Counter(e["verb"] for e in ours if e.get("verb") in ("get", "list"))
        identity = Counter(c["Route"] for c in self.sim.admin.calls(since=self.sim_mark))
        return {
            "kubernetes_writes": sum(writes.values()),
            "kubernetes_writes_by_kind": dict(writes),
            "kubernetes_reads": dict(reads),
            "identity_calls": sum(v for k, v in identity.items() if k != "token"),
            "identity_calls_by_route": dict(identity),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--log", type=Path, help="keep the operator's log here")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with ControlPlane(audit_log=True) as plane, SimProcess() as sim:
        plane.kubectl("apply", "-k", str(REPO / "crds"))
        for name in CRD_NAMES:
            wait_crd_established(plane, name)
        plane.kubectl("apply", "-f", str(REPO / "examples" / "tenant.yaml"))
        plane.kubectl("create", "namespace", "bench")
        kubeconfig = write_token_kubeconfig(plane, operator_token(plane),
                                            plane.workdir / "operator.kubeconfig")
        kube = Kube(plane.api_client())
        operator = OperatorProcess(
            kubeconfig=kubeconfig, identity_url=sim.base_url, client_id=sim.admin_client_id,
            client_secret=sim.admin_client_secret, namespaces=["bench"],
            env={"CCOPERATOR_RESYNC_PERIOD": f"{RESYNC_SECONDS}s",
                 "CCOPERATOR_LOG_LEVEL": "DEBUG"})
        operator.start()
        meter = Meter(plane, sim)
        try:
            meter.mark()
            kube.create_ccc("bench", "app", {"tenantRef": {"name": "demo"}, "roleIds": [MEMBER]})
            kube.wait_ready("bench", "app")
            results["create"] = meter.read()

            meter.mark()
            time.sleep(RESYNC_SECONDS * 1.1 + 1)  # one resync period, jitter included
            results["noop_resync"] = meter.read()

            meter.mark()
            kube.patch_ccc("bench", "app", {"spec": {"name": "renamed"}})
            wait_for(lambda: (kube.get_ccc("bench", "app") or {}).get("status", {})
                     .get("observedGeneration") == 2, what="update handled")
            results["update"] = meter.read()

            meter.mark()
            kube.delete_ccc("bench", "app")
            kube.wait_gone("bench", "app")
            results["delete"] = meter.read()
        finally:
            if args.log:
                args.log.write_text(operator.logs())
            operator.close()
    json.dump(results, sys.stdout, indent=2)
    print()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
