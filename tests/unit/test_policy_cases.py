"""The policy table (tests/data/policy_cases.yaml) as the operator's pure rules judge it; the
admission policies judge the same table on the real API server
(tests/integration/test_policy_agreement.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from ccoperator.api.tenants import CLUSTER_KIND, NAMESPACED_KIND

from tests.policy_cases import (
    METADATA_CHANGES,
    SCHEMA,
    Case,
    at_apply,
    judge,
    load,
    operator_verdict,
)

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "deploy" / "components" / "admission-policies" / "admission-policies.yaml"
TABLE = load()


def test_the_table_covers_what_the_issue_asks() -> None:
    cases = TABLE.cases
    assert len(cases) >= 60
    assert {c.tenant_kind for c in cases} == {CLUSTER_KIND, NAMESPACED_KIND}
    assert {c.operator for c in cases} == {"Ready", "TenantNotAllowed", "PolicyDenied",
                                           "InvalidSpec", "TenantRefNotFound", SCHEMA}
    assert {c.change for c in cases} == {None, "spec", *METADATA_CHANGES}
    assert {c.apply for c in cases if c.is_update} == {"admitted", "refused"}
    operators = {e["operator"] for t in TABLE.tenants
                 for e in (t.spec.get("namespaceSelector") or {}).get("matchExpressions", [])}
    assert operators == {"In", "NotIn", "Exists", "DoesNotExist"}
    for kind in (CLUSTER_KIND, NAMESPACED_KIND):  # every rule, for both kinds
        for words in ("roleIds", "expiresAfter", "rotateBefore", "adoption: Deny",
                      "allowedClientIds"):
            assert any(words in s for c in cases if c.tenant_kind == kind for s in c.says) or any(
                words in (judge(TABLE, c).message or "") for c in cases
                if c.tenant_kind == kind), (kind, words)


@pytest.mark.parametrize("case", TABLE.cases, ids=[c.name for c in TABLE.cases])
def test_operator_verdict(case: Case) -> None:
    verdict = operator_verdict(TABLE, case)
    assert verdict.reason == case.operator, verdict.message
    for words in case.says:
        if case.operator == SCHEMA:
            continue  # the CRD's message: checked on the API server
        assert verdict.message is not None and words in verdict.message, verdict.message
    answer = at_apply(TABLE, case)
    assert answer.admitted is (case.apply == "admitted"), answer


@pytest.mark.parametrize("case", TABLE.cases, ids=[c.name for c in TABLE.cases])
def test_what_admission_refuses_the_operator_refuses_whatever_its_default(case: Case) -> None:
    """The policies never see the operator's default secret lifetime: what they refuse must
    be refused under every default, so that admission never stands in for a stricter rule."""
    if case.change in METADATA_CHANGES or at_apply(TABLE, case).admitted:
        return
    for default in (None, timedelta(hours=1), timedelta(hours=24), timedelta(hours=2160)):
        assert judge(TABLE, case, operator_default=default).reason != "Ready", default


def _policies() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(POLICIES.read_text()) if d]
    return {d["spec"]["paramKind"]["kind"]: d for d in docs
            if d["kind"] == "ValidatingAdmissionPolicy"}


def test_both_policies_apply_the_same_rules() -> None:
    """CEL cannot share code between two policies: the rules are written twice, and kept
    equal here. Only the key (how a tenant object is named) and the selector differ."""
    policies = _policies()
    assert set(policies) == {CLUSTER_KIND, NAMESPACED_KIND}
    variables = {kind: {v["name"]: " ".join(v["expression"].split())
                        for v in p["spec"]["variables"]} for kind, p in policies.items()}
    cluster, namespaced = variables[CLUSTER_KIND], variables[NAMESPACED_KIND]
    assert set(cluster) - set(namespaced) == {"labels", "selected"}
    assert set(namespaced) <= set(cluster)
    for name in set(namespaced) - {"key"}:
        assert cluster[name] == namespaced[name], name
    messages = {kind: [" ".join(v["messageExpression"].split())
                       for v in p["spec"]["validations"]] for kind, p in policies.items()}
    assert messages[CLUSTER_KIND][1:] == messages[NAMESPACED_KIND]
    for kind, p in policies.items():
        assert p["spec"]["failurePolicy"] == "Ignore"  # an error admits; the operator decides
        rules = p["spec"]["matchConstraints"]["resourceRules"]
        assert rules == [{"apiGroups": ["identity.ccoperator.io"], "apiVersions": ["v1alpha1"],
                          "operations": ["CREATE", "UPDATE"],
                          "resources": ["clientcredentialclients"]}], kind
