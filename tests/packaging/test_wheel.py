"""`pip install ccoperator` then `ccoperator demo` works: the wheel carries the harness
(ccoperator_envtest), the simulator and the CRDs and examples as package data.

The wheel is built from this checkout and installed, with its dependencies from PyPI (pip's
cache makes a second run fast), into a fresh virtualenv; every command runs from an empty
folder, so nothing can come from the checkout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ccoperator_envtest import build

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Installed:
    venv: Path
    cwd: Path  # empty folder outside the checkout
    env: dict[str, str]

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / argv[0]), *argv[1:]], cwd=self.cwd,
                              env=self.env, capture_output=True, text=True, timeout=timeout)


def _check(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    started = time.monotonic()
    _check(subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--wheel-dir", str(root / "dist"), str(REPO)],
                          env=env, capture_output=True, text=True, timeout=300))
    wheels = list((root / "dist").glob("ccoperator-*.whl"))
    assert len(wheels) == 1, wheels
    _check(subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], env=env,
                          capture_output=True, text=True, timeout=120))
    _check(subprocess.run([str(root / "venv" / "bin" / "pip"), "install", "--quiet",
                           "--disable-pip-version-check", str(wheels[0])],
                          env=env, capture_output=True, text=True, timeout=600))
    print(f"wheel built and installed in {time.monotonic() - started:.1f}s")
    (root / "cwd").mkdir()
    yield Installed(root / "venv", root / "cwd", env)


def test_installed_demo_has_help_and_its_package_data(installed: Installed) -> None:
    out = _check(installed.run("ccoperator", "demo", "--help")).stdout
    assert "--once" in out and "ccoperator demo" in out
    probe = _check(installed.run("python", "-c", """if True:
        import json
        from importlib import resources
        import ccoperator, ccoperator_envtest, identity_sim
        from ccoperator_envtest import build
        data = resources.files("ccoperator") / "data"
        print(json.dumps({
            "paths": [p for m in (ccoperator, ccoperator_envtest, identity_sim)
                      for p in m.__path__],
            "bin_dir": str(build.bin_dir()),
            "data": {d: {f.name: f.read_text() for f in (data / d).iterdir()}
                     for d in ("crds", "examples")},
        }))
    """)).stdout
    found = json.loads(probe)
    site = str(installed.venv / "lib")
    assert len(found["paths"]) == 3 and all(p.startswith(site) for p in found["paths"]), found
    # The same cache as the checkout's: binaries built once serve both.
    assert found["bin_dir"] == str(build.bin_dir())
    for folder in ("crds", "examples"):
        want = {p.name: p.read_text() for p in (REPO / folder).glob("*.yaml")
                if p.name != "kustomization.yaml"}
        assert found["data"][folder] == want, folder
    envtest = _check(installed.run("python", "-m", "ccoperator_envtest.build", "--print"))
    assert envtest.stdout.strip() == str(build.bin_dir())


@pytest.mark.controlplane
def test_installed_demo_runs_without_the_checkout(installed: Installed) -> None:
    build.ensure_built()  # as `make test` does first; a no-op once the cache has them
    result = installed.run("ccoperator", "demo", "--once", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all 2 examples Ready" in result.stdout, result.stdout
    assert "everything cleaned up" in result.stdout
