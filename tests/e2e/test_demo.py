"""`ccoperator demo` (what `make demo` runs) works end to end and cleans up after itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .support import REPO


def test_demo_once_shows_ready_clients_with_masked_secrets() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ccoperator.cli", "demo", "--once"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "all 2 examples Ready" in out
    assert re.search(r"reporting-api\s+\S+\s+demo-tenant\s+true\s+True\s+ClientReady", out), out
    assert "clientSecret: ******** (" in out and "CLIENT_SECRET: ******** (" in out
    assert "kubeconfig: " in out and "describe ccc reporting-api" in out
    assert "everything cleaned up" in out
    # Nothing it started is left behind: the cluster's and the operator's temp dirs are gone.
    kubeconfig = re.search(r"kubeconfig: (\S+)", out)
    operator_log = re.search(r"log (\S+operator\.log)", out)
    assert kubeconfig is not None and operator_log is not None
    assert not Path(kubeconfig.group(1)).parent.exists()
    assert not Path(operator_log.group(1)).parent.exists()
