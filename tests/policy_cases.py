"""The table of tests/data/policy_cases.yaml, and what each judge must answer for a case.

Two judges read the same table: the operator's pure rules (`judge`, the order of
controller/gate.py without the rules that need the operator's state: reserved ids, one owner per
client id) and the admission policies on the real API server. `at_apply` says what
`kubectl apply` must answer, derived from the operator's verdict by the rules the issue sets:
refused with the operator's message, except a tenant object not found, an update that leaves
spec as it was, and what only the operator's default lifetime decides.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from ccoperator.api.clients import ClientSpec, parse_duration
from ccoperator.api.marks import is_derived_form
from ccoperator.api.tenants import (
    CLUSTER_KIND,
    NAMESPACED_KIND,
    TenantKey,
    TenantObject,
    TenantSpec,
)
from ccoperator.reconcile import policy

TABLE = Path(__file__).resolve().parent / "data" / "policy_cases.yaml"
GROUP_VERSION = "identity.ccoperator.io/v1alpha1"
READY = "Ready"
SCHEMA = "Schema"  # the CRD refuses it: the operator never sees it
METADATA_CHANGES = frozenset({"label", "annotation", "finalizer"})
CHANGES = METADATA_CHANGES | {"spec"}


@dataclass(frozen=True)
class Names:
    """Logical names of the table -> names on a cluster: namespaces and cluster-scoped tenant
    objects get a prefix there (other tests share the cluster); none in unit tests."""

    prefix: str = ""

    def ns(self, logical: str) -> str:
        return self.prefix + logical

    def tenant(self, kind: str, logical: str) -> str:
        return self.prefix + logical if kind == CLUSTER_KIND else logical


@dataclass(frozen=True)
class TenantDef:
    kind: str
    name: str
    namespace: str  # logical; "" for a ClusterIdentityTenant
    spec: dict[str, Any]

    def body(self, names: Names) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": names.tenant(self.kind, self.name)}
        if self.kind == NAMESPACED_KIND:
            meta["namespace"] = names.ns(self.namespace)
        return {"apiVersion": GROUP_VERSION, "kind": self.kind, "metadata": meta,
                "spec": copy.deepcopy(self.spec)}


@dataclass(frozen=True)
class Case:
    name: str
    ns: str
    tenant_kind: str
    tenant: str
    spec: dict[str, Any]  # the spec asked for (for an update: after the change)
    operator: str
    apply: str  # "admitted" | "refused"
    says: tuple[str, ...] = ()
    stored: dict[str, Any] | None = None  # an update: the spec stored first
    change: str | None = None
    operator_default: timedelta | None = None

    @property
    def is_update(self) -> bool:
        return self.stored is not None

    def client_spec(self, names: Names, spec: dict[str, Any] | None = None) -> dict[str, Any]:
        body = copy.deepcopy(self.spec if spec is None else spec)
        body["tenantRef"] = {"kind": self.tenant_kind,
                             "name": names.tenant(self.tenant_kind, self.tenant)}
        return body

    def stored_spec(self, names: Names) -> dict[str, Any]:
        assert self.stored is not None, self.name
        return self.client_spec(names, self.stored)


@dataclass(frozen=True)
class Verdict:
    """The operator's: a Ready=False reason with its message, Ready, or Schema."""

    reason: str
    message: str | None = None


@dataclass(frozen=True)
class Answer:
    """What `kubectl apply` answers: admitted, or refused with a message."""

    admitted: bool
    message: str | None = None

    def __str__(self) -> str:
        return "admitted" if self.admitted else f"refused: {self.message}"


ADMITTED = Answer(True)


@dataclass(frozen=True)
class Table:
    roles: dict[str, str]
    namespaces: dict[str, dict[str, str]]
    tenants: tuple[TenantDef, ...]
    cases: tuple[Case, ...] = field(default=())

    def labels(self, logical_ns: str, names: Names) -> dict[str, str]:
        """The namespace's labels as the API server shows them."""
        return {**self.namespaces[logical_ns], "kubernetes.io/metadata.name": names.ns(logical_ns)}

    def tenant_object(self, key: TenantKey, names: Names) -> TenantObject | None:
        for t in self.tenants:
            namespace = names.ns(t.namespace) if t.kind == NAMESPACED_KIND else ""
            if (t.kind, namespace, names.tenant(t.kind, t.name)) == (
                    key.kind, key.namespace, key.name):
                return TenantObject(key=key, uid=f"uid-{t.name}", generation=1,
                                    spec=TenantSpec.model_validate(t.body(names)["spec"]))
        return None


def _tenant(raw: dict[str, Any]) -> TenantDef:
    kind = raw.get("kind", CLUSTER_KIND)
    spec = {"tenantId": "t1", **raw["spec"]}
    if kind == NAMESPACED_KIND:
        spec.setdefault("credentialsSecretRef", {"name": "admin"})
    return TenantDef(kind, raw["name"], raw.get("namespace", ""), spec)


def _case(raw: dict[str, Any], member: str) -> Case:
    known = {"name", "ns", "tenant", "spec", "operator", "apply", "says", "stored", "change",
             "operator_default"}
    unknown = set(raw) - known
    assert not unknown, f"{raw.get('name')}: unknown fields {unknown}"
    tenant = str(raw["tenant"])
    kind, name = ((NAMESPACED_KIND, tenant[3:]) if tenant.startswith("it/")
                  else (CLUSTER_KIND, tenant))
    base = {"roleIds": [member]}
    stored = raw.get("stored")
    change = raw.get("change")
    assert (stored is None) == (change is None), f"{raw['name']}: stored and change go together"
    assert change is None or change in CHANGES, f"{raw['name']}: change {change!r}"
    if change in METADATA_CHANGES:
        assert "spec" not in raw, f"{raw['name']}: a metadata-only update changes no spec"
        spec = {**base, **stored}
    else:
        spec = {**base, **(raw.get("spec") or {})}
    assert raw["apply"] in ("admitted", "refused"), raw["name"]
    default = raw.get("operator_default")
    return Case(
        name=raw["name"], ns=raw["ns"], tenant_kind=kind, tenant=name, spec=spec,
        operator=raw["operator"], apply=raw["apply"], says=tuple(raw.get("says") or ()),
        stored=None if stored is None else {**base, **stored}, change=change,
        operator_default=None if default is None else parse_duration(default))


def load(path: Path = TABLE) -> Table:
    raw = yaml.safe_load(path.read_text())
    roles = dict(raw["roles"])
    table = Table(roles=roles,
                  namespaces={k: dict(v or {}) for k, v in raw["namespaces"].items()},
                  tenants=tuple(_tenant(t) for t in raw["tenants"]))
    cases = tuple(_case(c, roles["member"]) for c in raw["cases"])
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return Table(table.roles, table.namespaces, table.tenants, cases)


def judge(table: Table, case: Case, names: Names = Names(), *,
          operator_default: timedelta | None = None) -> Verdict:
    """The operator's verdict on the case's spec: policy.resolve, check, supported."""
    namespace = names.ns(case.ns)
    body = case.client_spec(names)
    if (body.get("clientId") and is_derived_form(str(body["clientId"]))) or (
            body.get("managementPolicy") == "Observe" and not body.get("clientId")):
        return Verdict(SCHEMA)  # the CRD's own rules (crds/clientcredentialclients.yaml)
    spec = ClientSpec.model_validate(body)
    key = policy.tenant_key(spec.tenant_ref, namespace)
    resolved = policy.resolve(spec.tenant_ref, namespace, table.labels(case.ns, names),
                              table.tenant_object(key, names))
    if isinstance(resolved, policy.Denial):
        return Verdict(resolved.reason.value, resolved.message)
    grant = policy.check(spec, resolved, key, operator_default)
    if isinstance(grant, policy.Denial):
        return Verdict(grant.reason.value, grant.message)
    denial = policy.supported(spec, resolved, key)
    if denial is not None:
        return Verdict(denial.reason.value, denial.message)
    return Verdict(READY)


def operator_verdict(table: Table, case: Case, names: Names = Names()) -> Verdict:
    return judge(table, case, names, operator_default=case.operator_default)


def at_apply(table: Table, case: Case, names: Names = Names()) -> Answer:
    """What `kubectl apply` must answer. The admission policies judge with what Kubernetes
    holds: no operator default lifetime, and nothing before the tenant object exists."""
    if case.change in METADATA_CHANGES:
        return ADMITTED  # never in the way of finalizers, labels, the rotate annotation
    verdict = judge(table, case, names, operator_default=None)
    if verdict.reason in (READY, "TenantRefNotFound"):
        return ADMITTED
    return Answer(False, verdict.message)  # Schema: the CRD's message (None here)
