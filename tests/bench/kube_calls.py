"""CPU and wall time of the operator's Kubernetes calls, before and after `kube_http`.

`old`: `KubeApi` as it was (the official client in `asyncio.to_thread` workers), read from
git (`--old-rev`, default: where this branch left main) into a temporary module. `new`: the
current `KubeApi` over aiohttp. Each makes 500 get_secret, 500 write_secret (replace) and 500
patch_status calls with 8 in flight, against a local etcd + kube-apiserver, authenticated with
a ServiceAccount token under deploy/'s ClusterRole (as in a cluster). CPU is this process's
(time.process_time: every thread, the official client's workers included); the control plane
runs in other processes. Rounds alternate old/new so drift on a shared machine hits both.
Not a test:

    .venv/bin/python -m tests.bench.kube_calls [--calls 500] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from ccoperator.api.clients import GROUP, PLURAL, VERSION
from ccoperator.api.secrets import SecretObject
from ccoperator.app import kube_configuration
from ccoperator.kube.api import KubeApi, Owner
from ccoperator.kube.http import connect
from ccoperator_envtest.cluster import ControlPlane, wait_crd_established, write_token_kubeconfig
from kubernetes import client as k8s

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "bench"
SA_NAMESPACE = "ccoperator-system"
# A multiple of the concurrency, so worker w only ever touches objects w, w+8, ...: no two
# calls in flight on one object, so no 409s from the benchmark itself.
OBJECTS = 40
SECRET_KEY = "clientSecret"
# Any role id in the UUID form the CRD admits; no identity service reads it here.
ROLE = "00000000-0000-4000-8000-000000000001"
PHASES = ("get_secret", "write_secret", "patch_status")


# ------------------------------------------------------------------------- implementations

def load_old_kube(rev: str, folder: Path) -> ModuleType:
    """The old kube.py as a module: relative imports made absolute, nothing else changed."""
    source = subprocess.run(["git", "show", f"{rev}:operator/ccoperator/kube.py"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    path = folder / "kube_old.py"
    path.write_text(source.replace("from .", "from ccoperator."))
    spec = importlib.util.spec_from_file_location("kube_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kube_old"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def default_old_rev() -> str:
    return subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=REPO, check=True,
                          capture_output=True, text=True).stdout.strip()


@contextmanager
def old_api(module: ModuleType, kubeconfig: Path) -> Iterator[Any]:
    # As the old app.kube_api_client() built it.
    configuration = kube_configuration(str(kubeconfig))
    configuration.connection_pool_maxsize = 32
    api_client = k8s.ApiClient(configuration)
    try:
        yield module.KubeApi(api_client)
    finally:
        api_client.close()


# ------------------------------------------------------------------------------- workload

def owner_of(i: int, uids: list[str]) -> Owner:
    return Owner(name=f"c{i}", namespace=NAMESPACE, uid=uids[i])


def secret_data(i: int, n: int) -> dict[str, str]:
    return {"clientId": f"client-{i}", SECRET_KEY: f"value-{i}-{n}-" + "x" * 40,
            "tenantId": "tenant-a", "tokenUrl": "http://127.0.0.1:8085/connect/token",
            "identityUrl": "http://127.0.0.1:8085"}


async def in_parallel(count: int, in_flight: int, call: Callable[[int], Awaitable[None]]
                      ) -> None:
    async def worker(w: int) -> None:
        for i in range(w, count, in_flight):
            await call(i)

    await asyncio.gather(*(worker(w) for w in range(in_flight)))


async def measure(call: Callable[[int], Awaitable[None]], count: int, in_flight: int
                  ) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    await in_parallel(count, in_flight, call)
    return time.process_time() - cpu, time.perf_counter() - wall


async def workload(api: Any, uids: list[str], calls: int, in_flight: int
                   ) -> dict[str, tuple[float, float]]:
    current: dict[int, SecretObject] = {}

    async def get(i: int) -> None:
        k = i % OBJECTS
        secret = await api.get_secret(NAMESPACE, f"c{k}-credentials", uids[k], SECRET_KEY)
        assert secret is not None and secret.owned
        current[k] = secret

    async def replace(i: int) -> None:
        k = i % OBJECTS
        existing = current[k]
        version = await api.write_secret(
            owner_of(k, uids), existing.name, secret_data(k, i),
            labels={"app.kubernetes.io/managed-by": "ccoperator"},
            annotations={"identity.ccoperator.io/secret-id": str(i)}, existing=existing)
        current[k] = dataclasses.replace(existing, resource_version=version)

    async def patch(i: int) -> None:
        await api.patch_status(NAMESPACE, f"c{i % OBJECTS}", {"clientId": f"client-{i}"})

    # Warm-up, not measured: connections, lazily imported models, the first token read.
    await in_parallel(OBJECTS, in_flight, get)
    results = {}
    for phase, call in zip(PHASES, (get, replace, patch), strict=True):
        results[phase] = await measure(call, calls, in_flight)
    return results


# ------------------------------------------------------------------------------- set-up

def prepare(plane: ControlPlane, folder: Path) -> tuple[Path, list[str]]:
    """CRD, namespace, owners and their Secrets; a token kubeconfig under deploy/'s role."""
    plane.kubectl("apply", "-k", str(REPO / "crds"))
    wait_crd_established(plane, f"{PLURAL}.{GROUP}")
    plane.kubectl("create", "namespace", NAMESPACE)
    plane.kubectl("create", "namespace", SA_NAMESPACE)
    plane.kubectl("create", "serviceaccount", "ccoperator", "-n", SA_NAMESPACE)
    plane.kubectl("apply", "-f", str(REPO / "deploy" / "base" / "clusterrole.yaml"))
    plane.kubectl("create", "clusterrolebinding", "bench-ccoperator", "--clusterrole=ccoperator",
                  f"--serviceaccount={SA_NAMESPACE}:ccoperator")
    token = plane.kubectl("create", "token", "ccoperator", "-n", SA_NAMESPACE,
                          "--duration=2h").stdout.strip()
    kubeconfig = write_token_kubeconfig(plane, token, folder / "token.kubeconfig")
    with plane.api_client() as api:
        custom = k8s.CustomObjectsApi(api)
        uids = []
        for i in range(OBJECTS):
            body = custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": "ClientCredentialClient",
                "metadata": {"name": f"c{i}"},
                "spec": {"tenantRef": {"name": "tenant-a"}, "roleIds": [ROLE]}})
            uids.append(body["metadata"]["uid"])
    asyncio.run(create_secrets(kubeconfig, uids))
    return kubeconfig, uids


async def create_secrets(kubeconfig: Path, uids: list[str]) -> None:
    http = connect(kube_configuration(str(kubeconfig)))
    try:
        api = KubeApi(http)
        for i in range(OBJECTS):
            await api.write_secret(owner_of(i, uids), f"c{i}-credentials", secret_data(i, 0),
                                   labels={}, annotations={}, existing=None)
    finally:
        await http.close()


async def run_new(kubeconfig: Path, uids: list[str], calls: int, in_flight: int
                  ) -> dict[str, tuple[float, float]]:
    http = connect(kube_configuration(str(kubeconfig)))
    try:
        return await workload(KubeApi(http), uids, calls, in_flight)
    finally:
        await http.close()


async def run_old(module: ModuleType, kubeconfig: Path, uids: list[str], calls: int,
                  in_flight: int) -> dict[str, tuple[float, float]]:
    with old_api(module, kubeconfig) as api:
        return await workload(api, uids, calls, in_flight)


# ------------------------------------------------------------------------------- report

def summarize(runs: dict[str, list[dict[str, tuple[float, float]]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for impl, rounds in runs.items():
        per_phase = {p: {"cpu_s": statistics.median(r[p][0] for r in rounds),
                         "wall_s": statistics.median(r[p][1] for r in rounds)}
                     for p in PHASES}
        per_phase["total"] = {
            "cpu_s": statistics.median(sum(r[p][0] for p in PHASES) for r in rounds),
            "wall_s": statistics.median(sum(r[p][1] for p in PHASES) for r in rounds)}
        summary[impl] = per_phase
    return summary


def print_table(summary: dict[str, Any], calls: int, in_flight: int, rev: str) -> None:
    print(f"\n{calls} calls per phase, {in_flight} in flight; old = kube.py at {rev[:10]}; "
          "medians over rounds")
    print(f"{'phase':<14}{'old CPU s':>11}{'new CPU s':>11}{'ratio':>8}"
          f"{'old wall s':>12}{'new wall s':>12}")
    for phase in (*PHASES, "total"):
        old, new = summary["old"][phase], summary["new"][phase]
        print(f"{phase:<14}{old['cpu_s']:>11.2f}{new['cpu_s']:>11.2f}"
              f"{old['cpu_s'] / new['cpu_s']:>7.1f}x"
              f"{old['wall_s']:>12.2f}{new['wall_s']:>12.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per phase")
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="old/new pairs, alternating")
    parser.add_argument("--old-rev", default=None, help="git revision of the old kube.py")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.in_flight <= 0 or OBJECTS % args.in_flight:
        parser.error(f"--in-flight must divide {OBJECTS}")
    rev = args.old_rev or default_old_rev()
    runs: dict[str, list[dict[str, tuple[float, float]]]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="kube-calls-") as tmp, \
            ControlPlane(with_controller_manager=False) as plane:
        old_module = load_old_kube(rev, Path(tmp))
        kubeconfig, uids = prepare(plane, Path(tmp))
        for n in range(args.rounds):
            for impl in ("old", "new"):
                if impl == "old":
                    result = asyncio.run(run_old(old_module, kubeconfig, uids, args.calls,
                                                 args.in_flight))
                else:
                    result = asyncio.run(run_new(kubeconfig, uids, args.calls, args.in_flight))
                runs[impl].append(result)
                line = "  ".join(f"{p} {c:.2f}s CPU / {w:.2f}s" for p, (c, w) in result.items())
                print(f"round {n + 1} {impl}: {line}", flush=True)
    summary = summarize(runs)
    print_table(summary, args.calls, args.in_flight, rev)
    if args.json:
        args.json.write_text(json.dumps({"old_rev": rev, "calls": args.calls,
                                         "in_flight": args.in_flight, "runs": runs,
                                         "summary": summary}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
