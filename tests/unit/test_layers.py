"""The layers are enforced, not only drawn: import-linter keeps them one-way (pyproject.toml,
[tool.importlinter]), and a lower layer that imports a higher one fails, naming the import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"),
                           "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root / "operator"), "PATH": "/usr/bin:/bin"},
                          timeout=120, check=False)


def test_the_layers_are_kept() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_lower_layer_importing_a_higher_one_fails_and_names_the_import(
        tmp_path: Path) -> None:
    shutil.copytree(REPO / "operator", tmp_path / "operator",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    policy = tmp_path / "operator" / "ccoperator" / "reconcile" / "policy.py"
    policy.write_text(policy.read_text() + "\nfrom ..controller.gate import Gate  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "ccoperator.reconcile is not allowed to import ccoperator.controller" in result.stdout
    assert "ccoperator.reconcile.policy -> ccoperator.controller.gate" in result.stdout
