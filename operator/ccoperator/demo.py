"""`ccoperator demo`: the whole thing on this machine, with nothing but Python and Go.

Starts a real kube-apiserver + etcd (+ controller-manager) built from Go modules, the identity
simulator with its demo tenants, installs the CRDs, runs the operator, applies `examples/`,
waits for Ready and shows the result: the role ids and administrator client id the README's
examples need, and the operator's /metrics and /healthz URLs. Stays up until Ctrl-C (or
SIGTERM, SIGHUP), then tears everything down; its children die with it even on SIGKILL.

Works from an installed package as well as from the checkout. The package is not published:
install it from a checkout (`pip install .`) or from a wheel built there (`pip wheel --no-deps
-w dist .`, then `pip install dist/ccoperator-*.whl`), and run `ccoperator demo` on a machine
with Go. The control-plane harness is `ccoperator_envtest`, and the CRDs and examples are this
package's data (`ccoperator/data/`, copies of the repository's `crds/` and `examples/` kept
identical by `make generate` and a test).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from ccoperator_envtest.processes import die_with_parent_preexec, free_port

from .demo_processes import Guardian, Stopped, die_by, stop_on_signals

NAMESPACE = "demo"


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


@contextlib.contextmanager
def package_data(folder: str) -> Iterator[list[Path]]:
    """The YAML files of `ccoperator/data/<folder>/` (crds, examples) as real paths."""
    with resources.as_file(resources.files("ccoperator") / "data" / folder) as path:
        yield sorted(path.glob("*.yaml"))


def _crd_names(files: list[Path]) -> list[str]:
    return [doc["metadata"]["name"] for f in files for doc in yaml.safe_load_all(f.read_text())
            if doc and doc.get("kind") == "CustomResourceDefinition"]


def masked(key: str, value: str, secret_key: str) -> str:
    if key == secret_key:
        return f"{'*' * 8} ({len(value)} characters, masked)"
    return value


@contextlib.contextmanager
def _operator(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ccoperator.cli", "run"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent_preexec())
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass(frozen=True)
class _Endpoints:
    """The operator's /metrics and /healthz on free loopback ports, so they can be tried."""

    metrics_port: int = field(default_factory=free_port)
    liveness_port: int = field(default_factory=free_port)

    @property
    def metrics(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    @property
    def liveness(self) -> str:
        return f"http://127.0.0.1:{self.liveness_port}/healthz"


def _operator_env(plane: Any, sim: Any, endpoints: _Endpoints) -> dict[str, str]:
    # The secret goes by environment, not argv (the process list) nor a file (the disk).
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CCOPERATOR_")},
        "KUBECONFIG": str(plane.kubeconfig),
        "CCOPERATOR_IDENTITY_URL": sim.base_url,
        "CCOPERATOR_CLIENT_ID": sim.admin_client_id,
        "CCOPERATOR_CLIENT_SECRET": sim.admin_client_secret,
        "CCOPERATOR_BIND_ADDRESS": "127.0.0.1",
        "CCOPERATOR_LIVENESS_PORT": str(endpoints.liveness_port),
        "CCOPERATOR_METRICS_PORT": str(endpoints.metrics_port),
        "CCOPERATOR_TENANT_CHECK_PERIOD": "10s",
    }


def _wait_ready(plane: Any, names: list[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        out = plane.kubectl("get", "ccc", "-n", NAMESPACE, "-o", "json").stdout
        items = {i["metadata"]["name"]: i for i in json.loads(out)["items"]}
        ready = {
            name: obj for name, obj in items.items()
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (obj.get("status") or {}).get("conditions", []))
        }
        if set(names) <= set(ready):
            return ready
        if time.monotonic() > deadline:
            raise SystemExit(f"[demo] not Ready after {timeout:.0f}s: "
                             f"{sorted(set(names) - set(ready))}; see the operator log")
        time.sleep(0.5)


def _show_secret(plane: Any, obj: dict[str, Any]) -> None:
    import base64

    name = obj["status"]["secretName"]
    secret_key = obj["spec"]["secret"]["keys"]["clientSecret"]
    out = plane.kubectl("get", "secret", name, "-n", NAMESPACE, "-o", "json").stdout
    data = json.loads(out)["data"]
    print(f"\nSecret {NAMESPACE}/{name}:")
    for key in sorted(data):
        print(f"  {key}: {masked(key, base64.b64decode(data[key]).decode(), secret_key)}")


def _describe_identity(sim: Any) -> None:
    """What the README's examples need: the role ids, and who the operator acts as."""
    _say(f"identity simulator {sim.base_url}; administrator client id "
         f"{sim.admin_client_id} (tenant {sim.admin_tenant_id}; the operator runs with it, "
         "its secret is not shown)")
    for tenant, roles in sim.tenants.items():
        _say(f"role ids of tenant {tenant} ({sim.api_versions.get(tenant)} API):")
        width = max(map(len, roles), default=0)
        for role, role_id in roles.items():
            print(f"         {role:<{width}}  {role_id}")


def _install_crds(plane: Any, crds: list[Path]) -> None:
    from ccoperator_envtest.cluster import wait_crd_established

    plane.kubectl("apply", *(f"-f={p}" for p in crds))
    for crd in _crd_names(crds):
        wait_crd_established(plane, crd)


def _apply_examples(plane: Any, examples: list[Path], timeout: float) -> dict[str, Any]:
    # examples/tenant.yaml declares the ClusterIdentityTenant the clients name.
    plane.kubectl("apply", "-n", NAMESPACE, *(f"-f={p}" for p in examples))
    objects = [json.loads(plane.kubectl("create", "--dry-run=client", "-o", "json",
                                        "-f", str(p)).stdout) for p in examples]
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "ClientCredentialClient"]
    return _wait_ready(plane, names, timeout)


def _show_result(plane: Any, ready: dict[str, Any], endpoints: _Endpoints) -> None:
    from ccoperator_envtest import build

    print(plane.kubectl("get", "cit", "-o", "wide").stdout)
    print(plane.kubectl("get", "ccc", "-n", NAMESPACE, "-o", "wide").stdout)
    for obj in ready.values():
        _show_secret(plane, obj)
    print(f"\nkubeconfig: {plane.kubeconfig}")
    print(f"try:  {build.binary('kubectl')} --kubeconfig={plane.kubeconfig} "
          f"-n {NAMESPACE} describe ccc reporting-api")
    print(f"metrics:  {endpoints.metrics}  (try: curl -s {endpoints.metrics} | grep "
          "^ccoperator_)")
    print(f"liveness: {endpoints.liveness}")


def _stay_up(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    _say("running; press Ctrl-C to stop and clean up")
    while proc.poll() is None:
        time.sleep(1)
    _say(f"operator exited ({proc.returncode}); see {log_path}")


def _run(args: argparse.Namespace, guardian: Guardian) -> None:
    from ccoperator_envtest.cluster import ControlPlane
    from identity_sim.testing import SimProcess

    started = time.monotonic()
    workdir = guardian.workdir
    # Everything below lives in the guardian's dir: removed even if the demo is SIGKILLed.
    with (ControlPlane(tmp_root=workdir) as plane,
          SimProcess(workdir=workdir / "identity_sim", secrets_on_disk=False) as sim,
          package_data("crds") as crds, package_data("examples") as examples):
        guardian.watch(*plane.pids.values(), sim.pid)
        _say(f"kube-apiserver {plane.server} up in {(plane.startup_seconds or 0):.1f}s")
        _describe_identity(sim)
        _install_crds(plane, crds)
        plane.kubectl("create", "namespace", NAMESPACE)
        endpoints = _Endpoints()
        log_path = workdir / "operator.log"
        with _operator(_operator_env(plane, sim, endpoints), log_path) as proc:
            guardian.watch(proc.pid)
            _say(f"operator running (pid {proc.pid}, log {log_path})")
            ready = _apply_examples(plane, examples, args.timeout)
            # kube-controller-manager was restarted for the new CRDs: watch the new one.
            guardian.watch(*plane.pids.values())
            _say(f"all {len(ready)} examples Ready, {time.monotonic() - started:.0f}s "
                 "after start\n")
            _show_result(plane, ready, endpoints)
            if not args.once:
                _stay_up(proc, log_path)
        _say("stopping")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ccoperator demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true",
                        help="exit after showing the result instead of waiting for Ctrl-C")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="how long to wait for the examples to become Ready (default: 120)")
    args = parser.parse_args(argv)
    # Imported here, not at the top: `ccoperator demo --help` should not pay for them.
    from ccoperator_envtest import build

    stopped_by: int | None = None
    with stop_on_signals():
        try:
            _say("control plane binaries: " + str(build.ensure_built()))
            with Guardian.start() as guardian:
                try:
                    _run(args, guardian)
                finally:
                    shutil.rmtree(guardian.workdir, ignore_errors=True)
        except Stopped as stop:
            stopped_by = stop.signum
    how = "" if stopped_by is None else f" ({signal.Signals(stopped_by).name})"
    _say(f"stopped{how}; everything cleaned up")
    if stopped_by is not None and stopped_by != signal.SIGINT:
        die_by(stopped_by)  # SIGTERM, SIGHUP: tell the parent; Ctrl-C is the normal way out
    return 0
