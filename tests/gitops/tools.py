"""The outside judges of the GitOps and monitoring manifests, built through gotools.

    python -m tests.gitops.tools                  # build what is missing, print the paths
    python -m tests.gitops.tools --print promtool # where it is (no build)

- `promtool`: Prometheus' rule checker and rule unit-test runner (Prometheus 3.x's module).
- `luahealth`: runs an Argo CD Lua health check on objects as Argo CD does (gopher-lua).
- `kstatus`: prints what sigs.k8s.io/cli-utils' kstatus computes (what Flux waits on).
- `promqlnames`: the metric names PromQL expressions select (Prometheus' own parser).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ccoperator_envtest import gotools
from ccoperator_envtest.gotools import GoTool, register

REPO = Path(__file__).resolve().parents[2]

PROMTOOL = register(GoTool("promtool", package="github.com/prometheus/prometheus/cmd/promtool",
                           version="v0.316.0"))
LUAHEALTH = register(GoTool("luahealth", source=REPO / "tools" / "luahealth"))
KSTATUS = register(GoTool("kstatus", source=REPO / "tools" / "kstatus"))
PROMQLNAMES = register(GoTool("promqlnames", source=REPO / "tools" / "promqlnames"))


def ensure(name: str) -> Path:
    return gotools.ensure(name)


def _judge(cmd: list[str], obj: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(cmd, input=json.dumps(obj), capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def argocd_health(script: str, obj: dict[str, Any]) -> dict[str, Any]:
    """{status, message} as Argo CD's Lua health check `script` computes it for `obj`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="health.") as file:
        file.write(script)
        file.flush()
        return _judge([str(ensure("luahealth")), file.name], obj)


def kstatus(obj: dict[str, Any]) -> dict[str, Any]:
    """{status, message, conditions} as kstatus' status.Compute computes it for `obj`."""
    return _judge([str(ensure("kstatus"))], obj)


def promql_names(exprs: list[str]) -> dict[str, list[str]]:
    """expr -> the metric names it selects; fails on an expression that does not parse."""
    result = subprocess.run([str(ensure("promqlnames"))], input=json.dumps(exprs),
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    answer: dict[str, list[str]] = json.loads(result.stdout)
    return answer


if __name__ == "__main__":
    gotools.main()
