"""Who may ask for what, as tables: policy.resolve, policy.check, policy.reserved, owners."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ccoperator.api.clients import ClientSpec, TenantRef
from ccoperator.api.conditions import Reason
from ccoperator.api.tenants import (
    CLUSTER_KIND,
    NAMESPACED_KIND,
    LabelSelector,
    TenantKey,
    TenantObject,
    TenantSpec,
)
from ccoperator.reconcile import policy

ADMIN, MEMBER, CONTRIB = "role-admin", "role-member", "role-contrib"
KEY = TenantKey(CLUSTER_KIND, "", "shared")


def tenant(**over: Any) -> TenantSpec:
    body: dict[str, Any] = {"tenantId": "t1", "allowedRoleIds": [MEMBER, CONTRIB],
                            "namespaceSelector": {}}
    body.update(over)
    return TenantSpec.model_validate(body)


def client(**over: Any) -> ClientSpec:
    body: dict[str, Any] = {"tenantRef": {"name": "shared"}, "roleIds": [MEMBER]}
    body.update(over)
    return ClientSpec.model_validate(body)


def obj(spec: TenantSpec | None, kind: str = CLUSTER_KIND, namespace: str = "") -> TenantObject:
    return TenantObject(key=TenantKey(kind, namespace, "shared"), uid="u", generation=1,
                        spec=spec, spec_error=None if spec else "bad")


SELECTOR_CASES = [
    ({}, {"team": "a"}, True),
    ({"matchLabels": {"team": "a"}}, {"team": "a", "x": "y"}, True),
    ({"matchLabels": {"team": "a"}}, {"team": "b"}, False),
    ({"matchLabels": {"team": "a"}}, {}, False),
    ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]},
     {"team": "b"}, True),
    ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}, {}, False),
    ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, {}, True),
    ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]},
     {"team": "a"}, False),
    ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, {"team": ""}, True),
    ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, {"team": ""}, False),
    ({"matchLabels": {"team": "a"},
      "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]},
     {"team": "a", "env": "dev"}, False),
]


@pytest.mark.parametrize(("selector", "labels", "expected"), SELECTOR_CASES)
def test_label_selector(selector: dict[str, Any], labels: dict[str, str],
                        expected: bool) -> None:
    assert LabelSelector.model_validate(selector).matches(labels) is expected


RESOLVE_CASES: list[tuple[str, TenantRef, dict[str, str] | None, TenantObject | None,
                          Reason | None]] = [
    ("cluster tenant, all namespaces", TenantRef(name="shared"), {}, obj(tenant()), None),
    ("missing object", TenantRef(name="shared"), {}, None, Reason.TENANT_REF_NOT_FOUND),
    ("unreadable object", TenantRef(name="shared"), {}, obj(None),
     Reason.TENANT_REF_NOT_FOUND),
    ("no selector selects none", TenantRef(name="shared"), {},
     obj(tenant(namespaceSelector=None)), Reason.TENANT_NOT_ALLOWED),
    ("selector does not match", TenantRef(name="shared"), {"team": "b"},
     obj(tenant(namespaceSelector={"matchLabels": {"team": "a"}})), Reason.TENANT_NOT_ALLOWED),
    ("selector matches", TenantRef(name="shared"), {"team": "a"},
     obj(tenant(namespaceSelector={"matchLabels": {"team": "a"}})), None),
    ("namespace unknown", TenantRef(name="shared"), None, obj(tenant()),
     Reason.TENANT_NOT_ALLOWED),
    ("namespaced tenant needs no selector", TenantRef(kind=NAMESPACED_KIND, name="shared"),
     None, obj(tenant(namespaceSelector=None), NAMESPACED_KIND, "ns"), None),
    ("namespaced tenant missing", TenantRef(kind=NAMESPACED_KIND, name="shared"), None, None,
     Reason.TENANT_REF_NOT_FOUND),
]


@pytest.mark.parametrize(("case", "ref", "labels", "found", "expected"), RESOLVE_CASES,
                         ids=[c[0] for c in RESOLVE_CASES])
def test_resolve(case: str, ref: TenantRef, labels: dict[str, str] | None,
                 found: TenantObject | None, expected: Reason | None) -> None:
    result = policy.resolve(ref, "ns", labels, found)
    if expected is None:
        assert isinstance(result, TenantSpec)
    else:
        assert isinstance(result, policy.Denial) and result.reason is expected


def test_identity_tenant_key_is_always_the_clients_namespace() -> None:
    ref = TenantRef(kind=NAMESPACED_KIND, name="x")
    assert policy.tenant_key(ref, "team-a") == TenantKey(NAMESPACED_KIND, "team-a", "x")
    assert policy.tenant_key(TenantRef(name="x"), "team-a") == TenantKey(CLUSTER_KIND, "", "x")


DAY = timedelta(days=1)
CHECK_CASES: list[tuple[str, TenantSpec, ClientSpec, timedelta | None, str | None,
                        timedelta | None]] = [
    # (case, tenant, client, operator default lifetime, refusal names, default granted)
    ("allowed roles", tenant(), client(), 90 * DAY, None, 90 * DAY),
    ("role outside allowedRoleIds", tenant(), client(roleIds=[MEMBER, ADMIN]), 90 * DAY,
     ADMIN, None),
    ("lifetime over max", tenant(maxSecretLifetime="720h"),
     client(secret={"expiresAfter": "721h"}), 90 * DAY, "expiresAfter 721h", None),
    ("lifetime at max", tenant(maxSecretLifetime="720h"),
     client(secret={"expiresAfter": "720h"}), 90 * DAY, None, 30 * DAY),
    ("never expires under a max", tenant(maxSecretLifetime="720h"),
     client(secret={"expiresAfter": "0s"}), 90 * DAY, "0s (never expires)", None),
    ("never expires without a max", tenant(), client(secret={"expiresAfter": "0s"}),
     90 * DAY, None, 90 * DAY),
    ("unset lifetime takes the smaller: max", tenant(maxSecretLifetime="24h"), client(),
     90 * DAY, None, DAY),
    ("unset lifetime takes the smaller: default", tenant(maxSecretLifetime="2400h"), client(),
     90 * DAY, None, 90 * DAY),
    ("operator default never expires: the max", tenant(maxSecretLifetime="24h"), client(),
     None, None, DAY),
    ("rotateBefore longer than the capped lifetime", tenant(maxSecretLifetime="24h"),
     client(secret={"rotateBefore": "48h"}), 90 * DAY, "rotateBefore 48h", None),
    ("adopt under Deny", tenant(), client(clientId="x-demo", adopt=True), 90 * DAY,
     "adoption: Deny", None),
    ("adopt under Allow", tenant(adoption="Allow"), client(clientId="x-demo", adopt=True),
     90 * DAY, None, 90 * DAY),
    ("client id outside allowedClientIds", tenant(allowedClientIds=["team-a-.*"]),
     client(clientId="team-b-api"), 90 * DAY, "team-b-api", None),
    ("client id must match fully", tenant(allowedClientIds=["team-a"]),
     client(clientId="team-a-api"), 90 * DAY, "allowedClientIds", None),
    ("client id matches one", tenant(allowedClientIds=["x", "team-a-.*"]),
     client(clientId="team-a-api"), 90 * DAY, None, 90 * DAY),
    ("invalid pattern matches nothing", tenant(allowedClientIds=["a(b"]),
     client(clientId="a(b"), 90 * DAY, "allowedClientIds", None),
    ("derived ids are not restricted", tenant(allowedClientIds=["team-a-.*"]), client(),
     90 * DAY, None, 90 * DAY),
]


@pytest.mark.parametrize(("case", "tenant_spec", "client_spec", "default", "refused",
                          "granted"), CHECK_CASES, ids=[c[0] for c in CHECK_CASES])
def test_check(case: str, tenant_spec: TenantSpec, client_spec: ClientSpec,
               default: timedelta | None, refused: str | None,
               granted: timedelta | None) -> None:
    result = policy.check(client_spec, tenant_spec, KEY, default)
    if refused is None:
        assert isinstance(result, policy.Grant), result
        assert result.default_lifetime == granted
    else:
        assert isinstance(result, policy.Denial)
        assert result.reason is Reason.POLICY_DENIED
        assert refused in result.message and "ClusterIdentityTenant shared" in result.message


def test_check_names_every_refusal_at_once() -> None:
    result = policy.check(client(roleIds=[ADMIN], clientId="zzz", adopt=True),
                          tenant(allowedClientIds=["a.*"]), KEY, None)
    assert isinstance(result, policy.Denial)
    for part in (ADMIN, "adoption: Deny", "'zzz'"):
        assert part in result.message


def test_reserved_ids() -> None:
    assert policy.reserved("ccoperator-admin", {"ccoperator-admin", "x"}) is not None
    denial = policy.reserved("ccoperator-admin", {"ccoperator-admin"})
    assert denial is not None and denial.reason is Reason.CLIENT_ID_RESERVED
    assert policy.reserved("app", {"ccoperator-admin"}) is None


def test_owner_is_the_oldest_then_lowest_uid_whatever_the_order() -> None:
    claimants = [("2026-01-02T00:00:00Z", "b"), ("2026-01-01T00:00:00Z", "z"),
                 ("2026-01-01T00:00:00Z", "y")]
    assert policy.owner(claimants) == "y"
    assert policy.owner(reversed(claimants)) == "y"
    assert policy.owner([]) is None


def test_taken_message_names_no_other_namespace() -> None:
    denial = policy.taken("billing-worker-demo")
    assert denial.reason is Reason.CLIENT_ID_TAKEN
    assert "namespace" not in denial.message


def test_access_token_lifetime_needs_a_v1_tenant() -> None:
    asked = client(accessTokenLifetime=600)
    denial = policy.supported(asked, tenant(), KEY)
    assert denial is not None and denial.reason is Reason.INVALID_SPEC
    assert "v1" in denial.message
    assert policy.supported(asked, tenant(apiVersion="v1"), KEY) is None
    assert policy.supported(client(), tenant(), KEY) is None


def test_observe_needs_a_tenant_that_allows_adoption() -> None:
    refused = policy.check(client(clientId="hand-made", managementPolicy="Observe"), tenant(),
                           KEY, None)
    assert isinstance(refused, policy.Denial) and refused.reason is Reason.POLICY_DENIED
    assert "managementPolicy: Observe" in refused.message and "adoption: Deny" in refused.message
    allowed = policy.check(client(clientId="hand-made", managementPolicy="Observe"),
                           tenant(adoption="Allow"), KEY, None)
    assert isinstance(allowed, policy.Grant)
