"""Build etcd, kube-apiserver, kubectl and kube-controller-manager from Go modules.

Binaries are cached outside the repository and built only when missing, so the first run
on a machine pays the cold build and every later run (tests, demo, CI) reuses it:

    python -m ccoperator_envtest.build            # build what is missing, print the bin dir
    python -m ccoperator_envtest.build --print    # only print where binaries are (no build)

Each builder is its own throwaway Go module (generated here from versions.py) so that version
selection can never drift with anything else.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import versions

ETCD_MAIN = """package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
"""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ccoperator" / "controlplane"


def bin_dir() -> Path:
    """Where the binaries of the pinned versions live (one folder per version set)."""
    tag = f"k8s-{versions.KUBERNETES_VERSION}_etcd-{versions.ETCD_VERSION}"
    return cache_root() / tag / "bin"


def binary(name: str) -> Path:
    return bin_dir() / name


def all_binaries() -> tuple[str, ...]:
    return ("etcd", *versions.KUBE_BINARIES)


def missing() -> list[str]:
    return [name for name in all_binaries() if not os.access(binary(name), os.X_OK)]


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOTOOLCHAIN="local",
        CGO_ENABLED="0",
        GOFLAGS="-mod=mod -buildvcs=false",
    )
    return env


def _run(label: str, cmd: list[str], cwd: Path) -> None:
    """Run a go command, printing a heartbeat with elapsed time so a long build is visible."""
    started = time.monotonic()
    print(f"[controlplane] {label}: {' '.join(cmd)}", flush=True)
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(30):
            print(f"[controlplane] {label}: still running, {time.monotonic() - started:.0f}s",
                  flush=True)

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        result = subprocess.run(cmd, cwd=cwd, env=_go_env(), capture_output=True, text=True)
    finally:
        done.set()
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"[controlplane] {label} failed (exit {result.returncode})")
    print(f"[controlplane] {label}: done in {time.monotonic() - started:.0f}s", flush=True)


def _kube_go_mod() -> str:
    v = versions
    replaces = "\n".join(
        f"\tk8s.io/{name} => k8s.io/{name} {v.STAGING_VERSION}" for name in v.STAGING_MODULES
    )
    return (
        "module ccoperator.local/kubebuilder\n\n"
        "go 1.24.0\n\n"
        f"godebug default={v.GODEBUG_DEFAULT}\n\n"
        f"require k8s.io/kubernetes {v.KUBERNETES_VERSION}\n\n"
        f"replace (\n{replaces}\n)\n"
    )


def _ldflags_kube() -> str:
    v = versions.KUBERNETES_VERSION
    major, minor = v.lstrip("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    return " ".join([
        "-s -w",
        f"-X {pkg}.gitVersion={v}",
        f"-X {pkg}.gitMajor={major}",
        f"-X {pkg}.gitMinor={minor}",
        f"-X {pkg}.gitTreeState=clean",
    ])


def build_etcd(work: Path, out: Path) -> None:
    src = work / "etcd"
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.go").write_text(ETCD_MAIN)
    (src / "go.mod").write_text(
        f"module ccoperator.local/etcdbuilder\n\ngo 1.24.0\n\n"
        f"require go.etcd.io/etcd/server/v3 {versions.ETCD_VERSION}\n"
    )
    _run("etcd: resolve modules", ["go", "mod", "tidy"], src)
    _run(f"etcd {versions.ETCD_VERSION}: build",
         ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd"), "."], src)


def build_kube(work: Path, out: Path) -> None:
    src = work / "kube"
    src.mkdir(parents=True, exist_ok=True)
    (src / "go.mod").write_text(_kube_go_mod())
    pkgs = [f"k8s.io/kubernetes/cmd/{name}" for name in versions.KUBE_BINARIES]
    # `go get` of the main packages pulls exactly the module graph they need; the three
    # binaries share most packages, so one `go build` compiles the shared part once.
    _run("kubernetes: resolve modules",
         ["go", "get", *(f"{p}@{versions.KUBERNETES_VERSION}" for p in pkgs)], src)
    _run(f"kubernetes {versions.KUBERNETES_VERSION}: build {', '.join(versions.KUBE_BINARIES)}",
         ["go", "build", "-trimpath", "-ldflags", _ldflags_kube(), "-o", str(out) + "/", *pkgs],
         src)


def ensure_built() -> Path:
    """Build whatever binary is missing; return the folder holding all of them."""
    out = bin_dir()
    todo = missing()
    if not todo:
        return out
    if shutil.which("go") is None:
        raise SystemExit("[controlplane] Go is required to build the control plane binaries")
    work = out.parent / "src"
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"[controlplane] building {', '.join(todo)} into {out} (first run only; "
          "a cold build takes several minutes on 2 cores)", flush=True)
    if "etcd" in todo:
        build_etcd(work, out)
    if any(name in todo for name in versions.KUBE_BINARIES):
        build_kube(work, out)
    still = missing()
    if still:
        raise SystemExit(f"[controlplane] build finished but {still} are missing from {out}")
    print(f"[controlplane] all binaries ready in {time.monotonic() - started:.0f}s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--print", action="store_true", help="print the bin dir, build nothing")
    args = parser.parse_args()
    if args.print:
        print(bin_dir())
        return
    print(ensure_built())


if __name__ == "__main__":
    main()
