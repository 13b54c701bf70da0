"""Checkov on what users apply: the rendered kustomizations under deploy/, the Argo CD
snippet, the Dockerfile, and (when the repository has one) each Helm chart under charts/.

    python -m tests.gitops.checkov_lint --checkov .venv-checkov/bin/checkov [--kubectl K]

Offline: Checkov downloads nothing (--skip-download; no update check, no platform mapping).
Exit 1 on any failed check. Findings that do not apply are skipped in the manifests
themselves (`checkov.io/skipN` annotations, `# checkov:skip=` in the Dockerfile), each with
its reason, and listed here on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZATIONS = ("deploy", "deploy/overlays/namespaced", "deploy/monitoring")
PLAIN_MANIFESTS = ("deploy/argocd/argocd-cm.yaml",)
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}


def _helm() -> str:
    found = shutil.which("helm")
    if found:
        return found
    from ccoperator_envtest import gotools

    if "helm" not in gotools.TOOLS:
        raise SystemExit("charts/ exists but no helm: put helm on PATH or register it in gotools")
    return str(gotools.ensure("helm"))


def render(kubectl: str, out: Path) -> list[Path]:
    """Every manifest to check, rendered into `out`."""
    files: list[Path] = []
    for target in KUSTOMIZATIONS:
        rendered = out / (target.replace("/", "_") + ".yaml")
        rendered.write_text(subprocess.run([kubectl, "kustomize", str(REPO / target)],
                                           check=True, capture_output=True, text=True).stdout)
        files.append(rendered)
    files += [REPO / path for path in PLAIN_MANIFESTS]
    for chart in sorted((REPO / "charts").glob("*/Chart.yaml")):
        rendered = out / f"chart_{chart.parent.name}.yaml"
        rendered.write_text(subprocess.run(
            # The defaults: no value is required (identity.url is optional).
            [_helm(), "template", "ccoperator", str(chart.parent), "--namespace",
             "ccoperator-system"],
            check=True, capture_output=True, text=True).stdout)
        files.append(rendered)
    return files


def run_checkov(checkov: str, files: list[Path]) -> list[dict[str, Any]]:
    result = subprocess.run(
        [checkov, "--skip-download", "--compact", "-o", "json",
         "--framework", "kubernetes", "dockerfile",
         "-f", *(str(f) for f in files), str(REPO / "Dockerfile")],
        capture_output=True, text=True, env={**os.environ, **OFFLINE_ENV}, check=False)
    if result.returncode not in (0, 1):
        raise SystemExit(f"checkov failed to run (exit {result.returncode}):\n{result.stderr}")
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkov", default=".venv-checkov/bin/checkov")
    parser.add_argument("--kubectl", default=shutil.which("kubectl") or "kubectl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="checkov.") as tmp:
        files = render(args.kubectl, Path(tmp))
        reports = run_checkov(args.checkov, files)
    failed = 0
    for report in reports:
        results, summary = report["results"], report["summary"]
        print(f"checkov {report['check_type']}: {summary['passed']} passed, "
              f"{summary['failed']} failed, {summary['skipped']} skipped")
        for check in results.get("skipped_checks", []):
            reason = check["check_result"].get("suppress_comment", "")
            print(f"  skipped {check['check_id']} on {check['resource']}: {reason}")
        for check in results.get("failed_checks", []):
            failed += 1
            print(f"  FAILED {check['check_id']} {check['check_name']} on "
                  f"{check['resource']} ({Path(check['file_path']).name})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
