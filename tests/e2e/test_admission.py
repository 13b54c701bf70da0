"""Bad manifests are rejected at admission (CRD schema + CEL) with a message a person
understands, and nothing is created. Runs `kubectl apply` against the real API server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .test_lifecycle import MEMBER

GOOD: dict[str, Any] = {"tenantRef": {"name": "demo"}, "roleIds": [MEMBER]}


def manifest(name: str, spec: Any, annotations: dict[str, str] | None = None) -> str:
    doc = {
        "apiVersion": "identity.ccoperator.io/v1alpha1",
        "kind": "ClientCredentialClient",
        "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
        "spec": spec,
    }
    return json.dumps(doc)


def with_(**over: Any) -> dict[str, Any]:
    return {**GOOD, **over}


def secret(**over: Any) -> dict[str, Any]:
    return {**GOOD, "secret": over}


INVALID: list[tuple[str, Any, str]] = [
    ("no-spec", None, "spec"),
    ("no-tenant", {"roleIds": [MEMBER]}, "spec.tenantRef: Required value"),
    # The field of earlier versions: refused by name (kubectl's strict field validation).
    ("old-tenant-id", {"tenantId": "demo-tenant", "roleIds": [MEMBER]},
     'unknown field "spec.tenantId"'),
    ("empty-tenant", with_(tenantRef={"name": ""}), "spec.tenantRef.name"),
    ("tenant-with-slash", with_(tenantRef={"name": "a/b"}), "spec.tenantRef.name"),
    ("tenant-kind", with_(tenantRef={"kind": "Issuer", "name": "demo"}),
     'supported values: "ClusterIdentityTenant", "IdentityTenant"'),
    ("no-roles", {"tenantRef": {"name": "demo"}}, "spec.roleIds: Required value"),
    ("empty-roles", with_(roleIds=[]), "spec.roleIds"),
    ("duplicate-roles", with_(roleIds=[MEMBER, MEMBER]), "Duplicate value"),
    ("blank-role", with_(roleIds=[""]), "spec.roleIds[0]"),
    ("role-with-space", with_(roleIds=["a b"]), "spec.roleIds[0]"),
    ("roles-not-list", with_(roleIds=MEMBER), "spec.roleIds"),
    ("enabled-not-bool", with_(enabled="yes"), "spec.enabled"),
    ("empty-name", with_(name=""), "spec.name"),
    ("bad-client-id", with_(clientId="has space"), "spec.clientId"),
    ("adopt-without-id", with_(adopt=True), "spec.adopt: true needs spec.clientId"),
    ("bad-policy", with_(deletionPolicy="Keep"), 'supported values: "Delete", "Orphan"'),
    ("bad-secret-name", secret(name="Not_A_DNS_Name"), "spec.secret.name"),
    ("bad-duration", secret(expiresAfter="30 days"), "spec.secret.expiresAfter"),
    ("days-unit", secret(expiresAfter="90d"), "spec.secret.expiresAfter"),
    ("short-lifetime", secret(expiresAfter="10m"), "at least 1h"),
    ("rotate-after-expiry", secret(expiresAfter="24h", rotateBefore="48h"),
     "rotateBefore must be shorter than spec.secret.expiresAfter"),
    ("same-keys", secret(keys={"clientId": "id", "clientSecret": "id"}),
     "spec.secret.keys must all be different"),
    ("bad-key-name", secret(keys={"clientSecret": "client secret"}),
     "spec.secret.keys.clientSecret"),
    ("managed-by-label", secret(labels={"app.kubernetes.io/managed-by": "me"}),
     "the operator owns them"),
    ("our-annotation", secret(annotations={"identity.ccoperator.io/secret-id": "1"}),
     "the operator owns them"),
    ("description-too-long", secret(description="x" * 201), "spec.secret.description"),
]


@pytest.mark.parametrize(("name", "spec", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_manifest_is_rejected(control_plane: Any, crd: str, namespace: str,
                                      name: str, spec: Any, expected: str) -> None:
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-",
                                   input=manifest(name, spec), check=False)
    assert result.returncode != 0, f"{name} was admitted"
    assert expected in result.stderr, result.stderr
    listed = control_plane.kubectl("get", "ccc", "-n", namespace, "-o", "name")
    assert listed.stdout.strip() == ""


# A role's name where its id belongs (issue 16): once admitted, refused only by the identity
# service, long after `kubectl apply` said "created". The CRDs give role ids `format: uuid`.
NOT_A_UUID = "tenant-member"
ROLE_ID_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("ClientCredentialClient", "spec.roleIds[1]", with_(roleIds=[MEMBER, NOT_A_UUID])),
    ("ClusterIdentityTenant", "spec.allowedRoleIds[0]",
     {"tenantId": "t1", "allowedRoleIds": [NOT_A_UUID]}),
    ("IdentityTenant", "spec.allowedRoleIds[0]",
     {"tenantId": "t1", "allowedRoleIds": [NOT_A_UUID], "credentialsSecretRef": {"name": "s"}}),
]


@pytest.mark.parametrize(("kind", "field", "spec"), ROLE_ID_CASES,
                         ids=[c[0] for c in ROLE_ID_CASES])
def test_role_ids_that_are_not_uuids_are_rejected(control_plane: Any, crd: str, namespace: str,
                                                  kind: str, field: str,
                                                  spec: dict[str, Any]) -> None:
    doc = {"apiVersion": "identity.ccoperator.io/v1alpha1", "kind": kind,
           "metadata": {"name": "role-name"}, "spec": spec}
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(doc),
                                   check=False)
    assert result.returncode != 0, f"{kind} with a role name was admitted"
    # The message names the field, the value and the form it must have.
    assert f'{field}: Invalid value: "{NOT_A_UUID}"' in result.stderr, result.stderr
    assert "must be of type uuid" in result.stderr, result.stderr
    assert control_plane.kubectl("get", kind, "role-name", "-n", namespace,
                                 check=False).returncode != 0


def test_explain_says_role_ids_are_uuids(control_plane: Any, crd: str) -> None:
    for field in ("ccc.spec.roleIds", "cit.spec.allowedRoleIds", "it.spec.allowedRoleIds"):
        text = " ".join(control_plane.kubectl("explain", field).stdout.split())  # unwrapped
        assert "in UUID form" in text, (field, text)


def test_valid_manifest_gets_defaults(control_plane: Any, crd: str, namespace: str) -> None:
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=manifest("ok", GOOD))
    got = json.loads(control_plane.kubectl("get", "ccc", "ok", "-n", namespace, "-o",
                                           "json").stdout)
    assert got["spec"]["enabled"] is True
    assert got["spec"]["adopt"] is False
    assert got["spec"]["deletionPolicy"] == "Delete"
    assert got["spec"]["secret"]["keys"] == {
        "clientId": "clientId", "clientSecret": "clientSecret", "tenantId": "tenantId",
        "tokenUrl": "tokenUrl", "identityUrl": "identityUrl"}


@pytest.mark.parametrize(("change", "expected"), [
    ({"tenantRef": {"name": "other"}}, "spec.tenantRef is immutable"),
    ({"tenantRef": {"kind": "IdentityTenant", "name": "demo"}}, "spec.tenantRef is immutable"),
    ({"clientId": "added-later"}, "spec.clientId is immutable"),
])
def test_immutable_fields(control_plane: Any, crd: str, namespace: str,
                          change: dict[str, Any], expected: str) -> None:
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=manifest("imm", GOOD))
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-",
                                   input=manifest("imm", {**GOOD, **change}), check=False)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr


def test_chosen_client_id_cannot_change(control_plane: Any, crd: str, namespace: str) -> None:
    control_plane.kubectl("apply", "-n", namespace, "-f", "-",
                          input=manifest("imm", with_(clientId="first")))
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-",
                                   input=manifest("imm", with_(clientId="second")), check=False)
    assert result.returncode != 0 and "spec.clientId is immutable" in result.stderr


def test_explain_documents_the_spec(control_plane: Any, crd: str) -> None:
    out = control_plane.kubectl("explain", "ccc.spec").stdout
    for field in ("tenantRef", "roleIds", "clientId", "adopt", "deletionPolicy", "secret"):
        assert field in out
    assert "immutable" in out.lower()
