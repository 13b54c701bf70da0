"""Checkov (run by `make lint`) passes offline with exactly the skips the manifests give
reasons for, and still catches what the fixes fixed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from . import checkov_lint
from .tools import REPO

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
EXPECTED_SKIPS = {"CKV_K8S_43", "CKV_K8S_38", "CKV_DOCKER_2", "CKV_DOCKER_7", "CKV2_K8S_5"}

pytestmark = pytest.mark.skipif(not CHECKOV.exists(),
                                reason="Checkov's virtualenv is made by `make lint`")


def kubectl() -> str:
    from ccoperator_envtest import build

    return shutil.which("kubectl") or str(build.binary("kubectl"))


def offline() -> list[str]:
    """A command prefix without network (a new network namespace), where that is allowed."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return ["unshare", "-n"] if probe.returncode == 0 else []


def test_lint_passes_without_network() -> None:
    prefix = offline()
    if not prefix:
        pytest.skip("cannot create a network namespace here (unshare -n)")
    result = subprocess.run([*prefix, sys.executable, "-m", "tests.gitops.checkov_lint",
                             "--checkov", str(CHECKOV), "--kubectl", kubectl()],
                            cwd=REPO, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout


def test_only_the_documented_skips(tmp_path: Path) -> None:
    reports = checkov_lint.run_checkov(str(CHECKOV), checkov_lint.render(kubectl(), tmp_path))
    skipped = {c["check_id"]: c["check_result"].get("suppress_comment", "")
               for r in reports for c in r["results"].get("skipped_checks", [])}
    assert set(skipped) == EXPECTED_SKIPS
    assert all(len(reason) > 20 for reason in skipped.values()), skipped


def test_a_pod_without_its_network_policy_fails(tmp_path: Path) -> None:
    rendered = subprocess.run([kubectl(), "kustomize", str(REPO / "deploy")], check=True,
                              capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    assert any(d["kind"] == "NetworkPolicy" for d in docs)
    stripped = tmp_path / "no-policy.yaml"
    stripped.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] != "NetworkPolicy"]))
    reports = checkov_lint.run_checkov(str(CHECKOV), [stripped])
    failed = {c["check_id"] for r in reports for c in r["results"]["failed_checks"]}
    assert failed == {"CKV2_K8S_6"}
