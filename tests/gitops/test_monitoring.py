"""deploy/monitoring/: the alert rules pass `promtool check rules` and their unit tests
(`promtool test rules`), every query of the rules and of the Grafana dashboard parses and names
a metric a running operator really serves, and those metrics follow resources as they change
reason and are deleted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s

from tests.e2e.support import Kube, OperatorProcess, wait_for
from tests.e2e.test_lifecycle import spec

from .tools import REPO, ensure, promql_names

MONITORING = REPO / "deploy" / "monitoring"
RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
RULES_TEST = Path(__file__).with_name("alerts_test.yaml")
# Grafana's own variables are not PromQL: what Grafana puts in their place before querying.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


@pytest.fixture(scope="module")
def rule_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PrometheusRule's spec as a plain rule file, next to the rules' unit tests."""
    manifest = yaml.safe_load(RULE.read_text())
    assert (manifest["apiVersion"], manifest["kind"]) == ("monitoring.coreos.com/v1",
                                                          "PrometheusRule")
    folder = tmp_path_factory.mktemp("rules")
    (folder / "ccoperator-rules.yaml").write_text(yaml.safe_dump(manifest["spec"]))
    shutil.copy(RULES_TEST, folder / RULES_TEST.name)
    return folder


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ensure("promtool")), *args], cwd=cwd, capture_output=True,
                          text=True, check=False, timeout=300)


def test_rules_pass_promtool_check(rule_dir: Path) -> None:
    result = promtool("check", "rules", "ccoperator-rules.yaml", cwd=rule_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_rules_pass_their_unit_tests(rule_dir: Path) -> None:
    result = promtool("test", "rules", RULES_TEST.name, cwd=rule_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test() -> None:
    alerts = {r["alert"] for g in yaml.safe_load(RULE.read_text())["spec"]["groups"]
              for r in g["rules"] if "alert" in r}
    tested = {t["alertname"] for case in yaml.safe_load(RULES_TEST.read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    assert alerts == tested


def rule_exprs() -> list[str]:
    return [str(r["expr"]) for g in yaml.safe_load(RULE.read_text())["spec"]["groups"]
            for r in g["rules"]]


def dashboard_exprs() -> list[str]:
    def walk(panels: list[dict[str, Any]]) -> list[str]:
        out: list[str] = []
        for panel in panels:
            out += [t["expr"] for t in panel.get("targets", []) if t.get("expr")]
            out += walk(panel.get("panels", []))
        return out
    exprs = walk(json.loads(DASHBOARD.read_text())["panels"])
    for name, value in GRAFANA_VARIABLES.items():
        exprs = [e.replace(name, value) for e in exprs]
    return exprs


def test_dashboard_is_wired_to_a_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["templating"]["list"][0]["name"] == "datasource"
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    assert not [e for e in exprs if "$" in e], "unknown Grafana variable in a query"


def exported(metrics_port: int) -> tuple[set[str], set[str]]:
    """(names that may be queried, names with at least one sample) on a live /metrics."""
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5.0).text
    declared: set[str] = set()
    sampled: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            suffixes = {"histogram": ("_bucket", "_sum", "_count", "_created"),
                        "summary": ("_sum", "_count", "_created"),
                        "counter": ("", "_created")}.get(kind, ("",))
            declared |= {name + s for s in suffixes}
        elif line and not line.startswith("#"):
            sampled.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return declared | sampled, sampled


def test_every_query_names_a_metric_the_operator_serves(operator: OperatorProcess, kube: Kube,
                                                        namespace: str) -> None:
    kube.create_ccc(namespace, "app", spec())
    kube.wait_ready(namespace, "app")
    exprs = rule_exprs() + dashboard_exprs()
    parsed = promql_names(exprs)  # fails on a query Prometheus would not parse
    used = {name for names in parsed.values() for name in names}
    assert all(parsed[e] for e in exprs), "a query that selects no metric"
    assert {n for n in used if not n.startswith("ccoperator_")} == set()
    # With one Ready resource every queried metric has data, not only a declaration (per-
    # resource series may be up to ResourceCollector.REBUILD_AFTER_SECONDS old: wait that out).
    queryable, sampled = wait_for(
        lambda: (found if used <= (found := exported(operator.metrics_port))[1] else None),
        timeout=10, what="a sample of every queried metric")
    assert used - queryable == set(), "queried but not exported"
    assert used - sampled == set(), "exported but without a sample"


def samples(port: int, name: str) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5.0).text
    return {series: float(value) for series, _, value in
            (line.rpartition(" ") for line in text.splitlines())
            if series.startswith(name + "{") or series == name}


def test_resource_metrics_follow_reason_changes_and_deletion(
        operator: OperatorProcess, kube: Kube, namespace: str) -> None:
    port = operator.metrics_port
    assert samples(port, "ccoperator_leader") == {"ccoperator_leader": 1.0}
    kube.core.create_namespaced_secret(namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="app-credentials"), string_data={"mine": "keep"}))
    kube.create_ccc(namespace, "app", spec(secret={"expiresAfter": "90h",
                                                   "rotateBefore": "30h"}))
    kube.create_ccc(namespace, "other", spec())
    kube.wait_reason(namespace, "app", "SecretConflict")
    kube.wait_ready(namespace, "other")
    conflict = 'ccoperator_resources{ready="False",reason="SecretConflict"}'
    ready = 'ccoperator_resources{ready="True",reason="ClientReady"}'
    wait_for(lambda: samples(port, "ccoperator_resources") == {conflict: 1.0, ready: 1.0},
             timeout=10, what="one conflict, one ready")

    kube.core.delete_namespaced_secret("app-credentials", namespace)
    obj = kube.wait_ready(namespace, "app")
    wait_for(lambda: samples(port, "ccoperator_resources") == {ready: 2.0}, timeout=10,
             what="both ready")
    expires = datetime.fromisoformat(obj["status"]["currentSecret"]["expiresAt"])
    series = f'{{name="app",namespace="{namespace}"}}'
    expiry = samples(port, "ccoperator_secret_expiry_timestamp_seconds")
    deadline = samples(port, "ccoperator_secret_rotation_deadline_timestamp_seconds")
    assert expiry["ccoperator_secret_expiry_timestamp_seconds" + series] == pytest.approx(
        expires.timestamp())
    assert deadline["ccoperator_secret_rotation_deadline_timestamp_seconds" + series] == (
        pytest.approx((expires - timedelta(hours=30)).timestamp()))

    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    wait_for(lambda: samples(port, "ccoperator_resources") == {ready: 1.0}, timeout=10,
             what="deleted resource uncounted")
    assert not [s for s in samples(port, "ccoperator_secret_expiry_timestamp_seconds")
                if 'name="app"' in s]
    assert not [s for s in samples(port, "ccoperator_secret_rotation_deadline_timestamp_seconds")
                if 'name="app"' in s]
