"""Helpers of tests/e2e/test_import_plan.py: the commands as processes, manifests on disk,
waiting for many resources at once, and the proof that a command wrote nothing to Kubernetes
(the resourceVersion of every object it could have touched, before and after)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from .support import (
    CLUSTER_NAME,
    GROUP,
    PLURAL,
    VERSION,
    Kube,
    default_client_id,
    ready_condition,
    run_cli,
    wait_for,
)

CLUSTER_TENANTS = "clusteridentitytenants"
IDENTITY_TENANTS = "identitytenants"
ROTATE = "identity.ccoperator.io/rotate"
EXISTING = ("upd", "rot", "same", "gone", "kept")  # the plan-vs-operator table's live ones


def roles_of(sim: Any, form: Any) -> dict[str, str]:
    return dict(sim.v1_roles if form.api_version == "v1" else sim.roles)


def versions(kube: Kube, namespaces: Iterable[str], *,
             tenants: bool = True) -> dict[str, str]:
    """kind/namespace/name -> resourceVersion of everything a plan or an import could write:
    the resources, Secrets, Events, ConfigMaps and (`tenants`) tenant objects of `namespaces`,
    every ClusterIdentityTenant, and the namespaces themselves. A write changes a version or
    adds an entry (an Event, a Secret). Tenant objects only while no operator runs: their
    status is the operator's to write."""
    found: dict[str, str] = {}

    def add(kind: str, items: Iterable[Any]) -> None:
        for item in items:
            meta = item["metadata"] if isinstance(item, dict) else item.metadata.to_dict()
            where = f"{meta.get('namespace') or ''}/{meta['name']}"
            found[f"{kind}/{where}"] = str(meta.get("resource_version")
                                           or meta.get("resourceVersion"))

    custom = kube.custom
    if tenants:
        add(CLUSTER_TENANTS, custom.list_cluster_custom_object(GROUP, VERSION,
                                                               CLUSTER_TENANTS)["items"])
    for ns in namespaces:
        add(PLURAL, custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)["items"])
        if tenants:
            add(IDENTITY_TENANTS, custom.list_namespaced_custom_object(
                GROUP, VERSION, ns, IDENTITY_TENANTS)["items"])
        add("secrets", kube.core.list_namespaced_secret(ns).items)
        add("events", kube.core.list_namespaced_event(ns).items)
        add("configmaps", kube.core.list_namespaced_config_map(ns).items)
        add("namespaces", [kube.core.read_namespace(ns)])
    return found


def run_json(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                      dict[str, Any]]:
    result = run_cli(env, *args, "-o", "json")
    try:
        return result, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"not JSON (exit {result.returncode}):\n{result.stdout}\n"
                             f"{result.stderr}") from None


def plan_json(env: dict[str, str], *args: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """`ccoperator plan ARGS -o json`: exit status, name -> resource row, stderr."""
    result, doc = run_json(env, "plan", *args)
    return result.returncode, {r["name"]: r for r in doc["resources"]}, result.stderr


def write_manifests(path: Path, docs: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(f"---\n{yaml.safe_dump(d, sort_keys=False)}" for d in docs))
    return path


def parse_import(output: str, as_json: bool) -> list[dict[str, Any]]:
    if as_json:
        doc = json.loads(output)
        assert doc["kind"] == "List", doc
        return list(doc["items"])
    return [d for d in yaml.safe_load_all(output) if d]


def reasons(kube: Kube, namespace: str) -> dict[str, tuple[str, str]]:
    """name -> (Ready reason, message) of every resource of the namespace."""
    items = kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace,
                                                      PLURAL)["items"]
    out = {}
    for item in items:
        cond = ready_condition(item) or {}
        out[item["metadata"]["name"]] = (str(cond.get("reason")), str(cond.get("message")))
    return out


def wait_reasons(kube: Kube, namespace: str, wanted: dict[str, str],
                 timeout: float = 120) -> dict[str, tuple[str, str]]:
    """Until each named resource's Ready reason is the one wanted."""
    def check() -> dict[str, tuple[str, str]] | None:
        now = reasons(kube, namespace)
        done = all(now.get(name, ("", ""))[0] == reason for name, reason in wanted.items())
        return now if done else None
    try:
        return wait_for(check, timeout=timeout, interval=0.5, what="Ready reasons")
    except AssertionError:
        now = reasons(kube, namespace)
        off = {n: now.get(n) for n, r in wanted.items() if now.get(n, ("", ""))[0] != r}
        raise AssertionError(f"not yet: {off}") from None


def events_of(kube: Kube, namespace: str, name: str) -> list[str]:
    return [e.reason for e in kube.events(namespace) if e.involved_object.name == name]


def ccc(name: str, namespace: str, spec: dict[str, Any],
        annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClientCredentialClient",
            "metadata": meta, "spec": spec}


def config_map(name: str, namespace: str) -> dict[str, Any]:
    return k8s.ApiClient().sanitize_for_serialization(k8s.V1ConfigMap(
        api_version="v1", kind="ConfigMap",
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace), data={"a": "b"}))


def table_setup(form: Any, kube: Kube, namespace: str, tenant: str, prefix: str) -> None:
    """What is there before the plan: five resources (kept: deletionPolicy Orphan), three
    unmarked clients, and a client marked with the owner key of a resource "reclaimed" that
    does not exist (a rebuilt cluster's: taken back)."""
    base = {"tenantRef": {"name": tenant}, "roleIds": [form.member]}
    for name in EXISTING:
        kube.create_ccc(namespace, name, {**base, **({"deletionPolicy": "Orphan"}
                                                     if name == "kept" else {})})
    for which in ("adopt", "taken", "observed"):
        form.api.create_client(form.tenant_id, {"ClientId": f"{prefix}-{which}", "Name": which,
                                                "RoleIds": [form.member]})
    mark = f"ccoperator.io/owner={CLUSTER_NAME}/{namespace}/reclaimed"
    form.api.create_client(form.tenant_id, {
        "ClientId": default_client_id(namespace, "reclaimed"), "Name": "reclaimed",
        "RoleIds": [form.member], **({"Tags": [mark]} if form.api_version == "v1" else
                                     {"SecretDescription": f"earlier life [{mark} uid=old]"})})
    wait_reasons(kube, namespace, dict.fromkeys(EXISTING, "ClientReady"))


def table_manifests(form: Any, sim: Any, namespace: str, tenant: str,
                    prefix: str) -> list[dict[str, Any]]:
    """One manifest per outcome; "gone" and "kept" are left out (--prune)."""
    base = {"tenantRef": {"name": tenant}, "roleIds": [form.member]}
    both = sorted([form.member, form.contributor])
    outside = next(r for n, r in roles_of(sim, form).items()
                   if r not in both and "Administrator" not in n)
    specs: dict[str, tuple[dict[str, Any], dict[str, str] | None]] = {
        "fresh": (base, None),
        "upd": ({**base, "roleIds": both}, None),
        "rot": (base, {ROTATE: "2026-01-01"}),
        "same": (base, None),
        "watcher": ({**base, "clientId": f"{prefix}-observed", "roleIds": both, "name": "observed",
                     "managementPolicy": "Observe"}, None),
        "adopter": ({**base, "clientId": f"{prefix}-adopt", "adopt": True}, None),
        "reclaimed": (base, None),
        "denied": ({**base, "roleIds": [form.member, outside]}, None),
        "taker": ({**base, "clientId": f"{prefix}-taken"}, None),
        "lost": ({**base, "tenantRef": {"name": "no-such-tenant"}}, None),
        "badschema": ({**base, "roleIds": []}, None),
    }
    return [ccc(name, namespace, spec, annotations)
            for name, (spec, annotations) in specs.items()]


def check_first_pass_writes(form: Any, sim: Any, namespace: str, prefix: str,
                            ids: dict[str, str], rows: dict[str, dict[str, Any]]) -> None:
    """Each resource's identity writes are the plan's: nothing where it said none, observe
    or refused; the create, update, secret or deletion it announced elsewhere."""
    writes: dict[str, list[str]] = {}
    for call in sim.admin.calls():
        # Writes that took effect: a derived id is POSTed without a read, and its 409 (the
        # reclaimed client exists) changes nothing before the pass reads it and takes it back.
        if call["Method"] != "GET" and call["Route"] != "token" and (
                isinstance(call["Status"], int) and call["Status"] < 300):
            writes.setdefault(str(call["ClientId"]), []).append(call["Route"])
    expected = {
        rows["fresh"]["clientId"]: ["clients.create"],
        ids["upd"]: ["clients.update"],
        ids["rot"]: ["secrets.add"],
        f"{prefix}-adopt": ["clients.update", "secrets.add"],
        default_client_id(namespace, "reclaimed"): ["secrets.add"],
        ids["gone"]: ["clients.delete"],
    }
    for client_id, routes in expected.items():
        assert sorted(writes.get(client_id, [])) == routes, (client_id, writes)
    for quiet in (ids["same"], f"{prefix}-observed", f"{prefix}-taken",
                  default_client_id(namespace, "denied"), default_client_id(namespace, "lost")):
        assert quiet not in writes, (quiet, writes)
    assert form.api.get_client(form.tenant_id, ids["kept"]) is not None  # orphaned: kept
    assert form.api.get_client(form.tenant_id, rows["fresh"]["clientId"])["Name"] == "fresh"  # type: ignore[index]
    assert set(form.api.get_client(form.tenant_id, ids["upd"])["RoleIds"]) == {  # type: ignore[index]
        form.member, form.contributor}


def refused(env: dict[str, str], *args: str, said: str, code: int = 1) -> None:
    """Run until stderr says `said` (RBAC changes reach the authorizer within moments)."""
    last: list[subprocess.CompletedProcess[str]] = []

    def attempt() -> bool:
        last[:] = [run_cli(env, *args)]
        return said in last[0].stderr
    try:
        wait_for(attempt, timeout=20, interval=0.5, what=said)
    except AssertionError:
        raise AssertionError(f"{said!r} not in:\n{last[0].stderr}") from None
    assert last[0].returncode == code and last[0].stdout == "", last[0]
