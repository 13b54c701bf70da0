"""`ccoperator plan` and `ccoperator import` without a cluster: the command lines, reading
manifests, names, manifests and their output, the plan's table, JSON and exit status, and the
guards that keep both from writing. The end-to-end runs are tests/e2e/test_import_plan.py."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ccoperator.api.clients import ManagementPolicy
from ccoperator.api.marks import Mark
from ccoperator.api.tenants import TenantKey, TenantSpec
from ccoperator.cli import kubectl_plugin, main
from ccoperator.commands.common import CommandError, import_target
from ccoperator.commands.import_manifests import (
    dns_label,
    manifest,
    outside_roles,
    render,
    resource_name,
    skip_reason,
    warnings,
)
from ccoperator.commands.plan import planned_view, prune_rows, replacing
from ccoperator.commands.plan_files import Manifest, load
from ccoperator.commands.plan_report import (
    Row,
    document,
    exit_status,
    pruned,
    rejected,
    summary,
    table,
)
from ccoperator.commands.session import write_refusal
from ccoperator.identity import ClientDto
from ccoperator.kube.http import _rejected

API = "identity.ccoperator.io/v1alpha1"
CIT = TenantKey("ClusterIdentityTenant", "", "platform")
SECRET = "s3cr3t-value-never-shown"


def ccc(name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": API, "kind": "ClientCredentialClient", "metadata": meta,
            "spec": {"tenantRef": {"name": "platform"}, "roleIds": ["r1"], **spec}}


def dump(*docs: dict[str, Any]) -> str:
    return "".join(f"---\n{yaml.safe_dump(d)}" for d in docs)


# ------------------------------------------------------------------------ command lines

@pytest.mark.parametrize(("argv", "said"), [
    (["plan"], "the following arguments are required: -f/--filename"),
    (["plan", "-f", "x", "-o", "yaml"], "invalid choice: 'yaml'"),
    (["plan", "-f", "x", "--cluster-name", "Not_A_Name"], "a cluster name is a DNS label"),
    (["import"], "the following arguments are required: --tenant-object"),
    (["import", "--tenant-object", "cit/platform"], "give the manifests' namespace"),
    (["import", "--tenant-object", "it/team-a"], "give its namespace with -n/--namespace"),
    (["import", "--tenant-object", "secret/x", "-n", "a"], "unknown kind 'secret'"),
    (["import", "--tenant-object", "cit/p", "-n", "a", "--management-policy", "Delete"],
     "invalid choice: 'Delete'"),
])
def test_usage_errors_are_exit_2_with_a_message(argv: list[str], said: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert code == 2
    assert said in capsys.readouterr().err


def test_import_target_names_the_tenant_object_and_the_manifests_namespace() -> None:
    assert import_target("cit/platform", "team-a") == (CIT, "team-a")
    assert import_target("it/team-a", "team-a") == (
        TenantKey("IdentityTenant", "team-a", "team-a"), "team-a")


def test_the_kubectl_plugin_runs_plan_and_import_and_says_how(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert kubectl_plugin([]) == 0
    assert "usage: kubectl ccoperator {plan,import}" in capsys.readouterr().out
    assert kubectl_plugin(["run"]) == 2
    assert "unknown command 'run'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        kubectl_plugin(["plan", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kubectl ccoperator plan")
    assert "0 nothing would change" in out and "2 something differs" in out


def test_a_missing_kubeconfig_is_exit_1_before_any_call(tmp_path: Path, capsys: Any) -> None:
    files = tmp_path / "m.yaml"
    files.write_text(dump(ccc("a", "ns")))
    code = main(["plan", "-f", str(files), "--kubeconfig", str(tmp_path / "none")])
    assert code == 1
    assert "ccoperator plan: cannot load the kubeconfig" in capsys.readouterr().err


# ------------------------------------------------------------------------- manifests

def test_files_folders_stdin_documents_and_lists(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.yaml").write_text(dump(ccc("a"), {"apiVersion": "v1", "kind": "Secret",
                                                   "metadata": {"name": "s"},
                                                   "data": {"k": SECRET}}))
    (folder / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                               "items": [ccc("b", "other")]}))
    (folder / "notes.txt").write_text("not: [yaml")
    (folder / "sub" / "c.yaml").write_text(dump(ccc("c")))  # not read: no sub-folders
    single = tmp_path / "d.yml"
    single.write_text(dump(ccc("d")))
    loaded = load([str(folder), str(single), "-"], io.StringIO(dump(ccc("e"))), "team-a")
    assert [(m.namespace, m.name) for m in loaded.manifests] == [
        ("team-a", "a"), ("other", "b"), ("team-a", "d"), ("team-a", "e")]
    assert loaded.manifests[0].body["metadata"]["namespace"] == "team-a"
    assert loaded.namespaces == ["other", "team-a"]
    assert len(loaded.notes) == 1 and loaded.notes[0].startswith("skipped Secret s (")
    assert SECRET not in " ".join(loaded.notes)


@pytest.mark.parametrize(("text", "said"), [
    ("kind: [unclosed\n  - {x: \n", "is not YAML at line"),
    ("- a\n- b\n", "not a Kubernetes object"),
    (dump({"apiVersion": API, "kind": "ClientCredentialClient", "metadata": {}}),
     "without metadata.name"),
    (dump(ccc("a"), ccc("a")), "ClientCredentialClient team-a/a is declared twice"),
])
def test_bad_manifests_are_errors_that_show_no_content(tmp_path: Path, text: str,
                                                       said: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text.replace("unclosed", SECRET))
    with pytest.raises(CommandError, match=said) as raised:
        load([str(path)], io.StringIO(), "team-a")
    assert SECRET not in str(raised.value)


def test_paths_that_cannot_be_read_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file or folder"):
        load([str(tmp_path / "none.yaml")], io.StringIO(), "default")
    with pytest.raises(CommandError, match="stdin can be read only once"):
        load(["-", "-"], io.StringIO(), "default")


def test_other_versions_and_kinds_are_skipped_with_a_note(tmp_path: Path) -> None:
    other = {**ccc("x"), "apiVersion": "identity.ccoperator.io/v2"}
    tenant = {"apiVersion": API, "kind": "ClusterIdentityTenant", "metadata": {"name": "p"}}
    loaded = load(["-"], io.StringIO(dump(other, tenant)), "default")
    assert loaded.manifests == []
    assert "apiVersion identity.ccoperator.io/v2 is not served" in loaded.notes[0]
    assert loaded.notes[1].startswith("skipped ClusterIdentityTenant p")


# ------------------------------------------------------------------- the plan's views

def live() -> dict[str, Any]:
    return {"apiVersion": API, "kind": "ClientCredentialClient",
            "metadata": {"name": "a", "namespace": "ns", "uid": "u-1", "generation": 3,
                         "resourceVersion": "41", "managedFields": [{"manager": "kubectl"}],
                         "labels": {"team": "x"}, "annotations": {"note": "kept"},
                         "finalizers": ["identity.ccoperator.io/cleanup"]},
            "spec": {"tenantRef": {"name": "platform"}, "roleIds": ["r1"]},
            "status": {"clientId": "c-1", "observedGeneration": 3}}


def test_an_existing_resource_is_replaced_by_the_manifests_spec_and_metadata() -> None:
    wanted = ccc("a", "ns", roleIds=["r2"])
    wanted["metadata"]["annotations"] = {"identity.ccoperator.io/rotate": "now"}
    body = replacing(live(), Manifest("m.yaml", "ns", "a", wanted))
    assert body["spec"]["roleIds"] == ["r2"]
    assert body["metadata"]["resourceVersion"] == "41"
    assert body["metadata"]["annotations"] == {"note": "kept",
                                               "identity.ccoperator.io/rotate": "now"}
    assert "managedFields" not in body["metadata"] and "status" not in body


def test_the_view_is_what_would_be_stored() -> None:
    stored = {**live(), "metadata": {**live()["metadata"], "generation": 4}}
    view = planned_view(stored, live(), Manifest("m", "ns", "a", ccc("a")))
    assert (view.uid, view.generation, view.status["clientId"]) == ("u-1", 4, "c-1")
    created = {**ccc("b", "ns"), "status": {"clientId": "not-recorded"}}
    view = planned_view(created, None, Manifest("m", "ns", "b", ccc("b")))
    assert view.status == {} and view.uid == "plan:ns/b"


def test_prune_lists_what_the_manifests_no_longer_contain() -> None:
    items = [
        {**ccc("kept", "ns"), "status": {"clientId": "c-kept"}},
        {**ccc("gone", "ns"), "status": {"clientId": "c-gone"}},
        {**ccc("orphaned", "ns", deletionPolicy="Orphan"), "status": {"clientId": "c-o"}},
        {**ccc("watched", "ns", managementPolicy="Observe", clientId="c-w")},
        {**ccc("elsewhere", "other")},
        {**ccc("leaving", "ns"), "metadata": {"name": "leaving", "namespace": "ns",
                                              "deletionTimestamp": "2026-01-01T00:00:00Z"}},
    ]
    loaded = load(["-"], io.StringIO(dump(ccc("kept", "ns"))), "ns")
    rows = prune_rows(items, loaded)
    assert [(r.name, r.verb, r.client_id) for r in rows] == [
        ("gone", "delete", "c-gone"), ("orphaned", "orphan", "c-o"),
        ("watched", "orphan", "c-w")]
    assert "its client c-gone is deleted" in (rows[0].message or "")
    assert "never deleted" in (pruned(items[3]).message or "")


# ---------------------------------------------------------------- the plan's output

ROWS = [
    Row("ns", "a", "create", "c-a", changes=("name: 'a'", "roleIds: [r1]")),
    Row("ns", "b", "none", "c-b"),
    rejected("ns", "c", "Invalid", 'ClientCredentialClient "c" is invalid: spec.roleIds'),
    Row("ns", "d", "refused", reason="PolicyDenied", message="role r9 is not allowed"),
]


def test_the_table_puts_further_details_under_details() -> None:
    lines = table(ROWS).splitlines()
    assert lines[0].split() == ["RESOURCE", "VERB", "CLIENT", "ID", "DETAILS"]
    assert lines[1].split()[:4] == ["ns/a", "create", "c-a", "name:"]
    assert lines[2].strip() == "roleIds: [r1]"
    assert lines[2].index("roleIds") == lines[0].index("DETAILS")
    assert "Invalid: the API server refuses it" in lines[4]
    assert lines[5].split()[:3] == ["ns/d", "refused", "-"]


@pytest.mark.parametrize(("verbs", "code"), [
    ((), 0), (("none", "observe"), 0), (("none", "create"), 2), (("refused",), 2),
    (("delete",), 2), (("orphan",), 2), (("rotate", "observe"), 2)])
def test_exit_status_is_terraforms_detailed_exitcode(verbs: tuple[str, ...], code: int) -> None:
    assert exit_status([Row("ns", str(i), v) for i, v in enumerate(verbs)]) == code


def test_summary_and_json_document() -> None:
    assert summary(ROWS) == ("Plan: 1 create, 2 refused, 1 none (some resources differ from "
                             "what is applied or would be refused).")
    assert summary([Row("ns", "b", "none")]) == "Plan: 1 none (nothing would change)."
    doc = document(ROWS, cluster_name="prod", notes=["skipped ConfigMap x"])
    assert doc["summary"] == {"create": 1, "refused": 2, "none": 1}
    assert doc["changes"] is True and doc["clusterName"] == "prod"
    assert doc["resources"][0] == {"namespace": "ns", "name": "a", "verb": "create",
                                   "clientId": "c-a", "reason": None, "message": None,
                                   "changes": ["name: 'a'", "roleIds: [r1]"]}


def test_an_api_server_refusal_keeps_its_reason_and_message() -> None:
    raw = json.dumps({"kind": "Status", "reason": "Invalid",
                      "message": 'x "c" is invalid: spec.roleIds'}).encode()
    refusal = _rejected(422, "Unprocessable Entity", "POST", "/apis/x?dryRun=All", raw)
    assert (refusal.status, refusal.kind_reason, refusal.message) == (
        422, "Invalid", 'x "c" is invalid: spec.roleIds')
    assert "invalid" not in str(refusal)  # the body stays out of the exception's text
    assert _rejected(500, "Internal Server Error", "PUT", "/x", b"<html>").kind_reason == (
        "Internal Server Error")


def test_only_dry_runs_leave_the_plans_kubernetes_session() -> None:
    plan_guard = write_refusal("plan", dry_run=True)
    plan_guard("POST", "/apis/g/v1/namespaces/ns/things?dryRun=All")
    plan_guard("PUT", "/apis/g/v1/namespaces/ns/things/a?fieldManager=x&dryRun=All")
    for method, path in (("POST", "/api/v1/namespaces/ns/events"),
                         ("PATCH", "/apis/g/v1/x?dryRun=None"),
                         ("PUT", "/apis/g/v1/x?note=dryRun=All")):
        with pytest.raises(RuntimeError, match="ccoperator plan never writes to Kubernetes"):
            plan_guard(method, path)
    with pytest.raises(RuntimeError, match="ccoperator import never writes"):
        write_refusal("import", dry_run=False)("POST", "/apis/g/v1/x?dryRun=All")


# ------------------------------------------------------------------------------ import

def client(client_id: str, name: str = "", roles: tuple[str, ...] = ("r1",),
           enabled: bool | None = True) -> ClientDto:
    return ClientDto(client_id=client_id, name=name, role_ids=list(roles), enabled=enabled)


@pytest.mark.parametrize(("text", "label"), [
    ("Reporting API", "reporting-api"), ("  --Billing__Worker v2!  ", "billing-worker-v2"),
    ("***", ""), ("Ünïcode Näme", "n-code-n-me"), ("x" * 80, "x" * 63),
    ("a" * 62 + "-b", "a" * 62)])
def test_names_are_dns_labels(text: str, label: str) -> None:
    assert dns_label(text) == label


def test_names_are_unique_among_printed_and_existing_ones() -> None:
    taken = {"reporting-api"}
    names = [resource_name(c, taken) for c in (
        client("1", "Reporting API"), client("2", "Reporting API"), client("Odd_Id.3", "***"),
        client("4", "y" * 70), client("5", "y" * 70))]
    assert names == ["reporting-api-2", "reporting-api-3", "odd-id-3", "y" * 63,
                     "y" * 61 + "-2"]
    assert all(len(n) <= 63 for n in names)


def test_skipped_clients_say_why() -> None:
    held = {"m": "team-a/app"}
    assert skip_reason("admin", None, held, frozenset({"admin"})) == (
        "reserved: a tenant object or the operator acts with it")
    assert skip_reason("m", None, held, frozenset()) == (
        "ClientCredentialClient team-a/app manages it")
    assert skip_reason("x", Mark("prod/a/b", released=True), held, frozenset()) == (
        "marked released by prod/a/b: a declaration takes it back itself")
    assert skip_reason("free", None, held, frozenset()) is None


def tenant_spec(**over: Any) -> TenantSpec:
    return TenantSpec.model_validate({"tenantId": "t", "allowedRoleIds": ["r1"], **over})


def test_a_manifest_adopts_the_client_as_it_is() -> None:
    made = manifest(client("c-1", "Reporting API", ("r1", "r9"), enabled=False), CIT,
                    "team-a", "reporting-api", ManagementPolicy.OBSERVE)
    assert made == {
        "apiVersion": API, "kind": "ClientCredentialClient",
        "metadata": {"name": "reporting-api", "namespace": "team-a"},
        "spec": {"tenantRef": {"kind": "ClusterIdentityTenant", "name": "platform"},
                 "clientId": "c-1", "name": "Reporting API", "roleIds": ["r1", "r9"],
                 "enabled": False, "adopt": True, "managementPolicy": "Observe"}}
    nameless = manifest(client("c-2"), CIT, "team-a", "c-2", ManagementPolicy.MANAGE)["spec"]
    assert "name" not in nameless and nameless["managementPolicy"] == "Manage"


def test_what_the_operator_will_refuse_is_said() -> None:
    spec = tenant_spec(allowedClientIds=["c-.*"])
    assert outside_roles(client("c-1", roles=("r1", "r9")), spec) == ["r9"]
    said = warnings(client("c-1", roles=("r1", "r9")), CIT, spec)
    assert said == ["client c-1: role(s) r9 are not in ClusterIdentityTenant platform's "
                    "allowedRoleIds: kept in the manifest, the operator refuses it "
                    "(PolicyDenied) until they are allowed or removed",
                    "client c-1 is not in ClusterIdentityTenant platform's allowedClientIds: "
                    "the operator refuses it (PolicyDenied)"]
    assert "has no role" in warnings(client("c-2", roles=()), CIT, tenant_spec())[0]
    assert warnings(client("c-3"), CIT, tenant_spec()) == []


def test_output_is_multi_document_yaml_or_a_json_list() -> None:
    docs = [manifest(client(f"c-{i}", f"App {i}"), CIT, "ns", f"app-{i}",
                     ManagementPolicy.OBSERVE) for i in (1, 2)]
    text = render(docs, "yaml")
    assert text.startswith("---\napiVersion: identity.ccoperator.io/v1alpha1\n")
    assert list(yaml.safe_load_all(text)) == docs
    assert json.loads(render(docs, "json")) == {"apiVersion": "v1", "kind": "List",
                                                "items": docs}
