"""`ccoperator import` and `ccoperator plan` end to end, on the real control plane and the
simulator, both forms of the identity API.

Bringing existing clients in: a tenant with 50 clients made through the identity API (and
some that must not be brought in: one a resource manages, one a resource declares, one marked
by another cluster). `import` prints exactly the 50; `plan` says `observe` for each; `kubectl
apply` -> every resource Observed, with the drift of the two manifests edited on the way, and
not one identity write. The manifests switched to Manage: `plan` says `adopt` for each; applied,
each is adopted with one secret (and one update where the client differs from the spec, or on
v1 for its tag), each Secret authenticates, and `plan` then says `none` for all and exits 0.

Then `plan` case by case against what the operator's first pass then actually does, the bad
input each command refuses without a side effect, and the kubectl plugin. Every command runs
as a process (`python -m ccoperator.cli`) with the environment an operator has; during each,
no identity write (the simulator's call log) and no Kubernetes write (the resourceVersion of
every object either could touch).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ccoperator_envtest import build

from .plan_support import (
    EXISTING,
    ccc,
    check_first_pass_writes,
    config_map,
    events_of,
    parse_import,
    plan_json,
    refused,
    table_manifests,
    table_setup,
    versions,
    wait_reasons,
    write_manifests,
)
from .support import (
    CLUSTER_NAME,
    GROUP,
    Kube,
    cli_env,
    default_client_id,
    free_port,
    identity_writes,
    run_cli,
    token_status,
    wait_for,
)

N = 50


@pytest.fixture
def tenant(form: Any, cluster_tenant: Callable[..., str], sim: Any, namespace: str) -> str:
    """A ClusterIdentityTenant of the form's tenant: member and contributor roles, adoption
    allowed (Observe and adopt need it)."""
    return cluster_tenant(f"imp-{form.api_version}-{namespace[-6:]}", tenantId=form.tenant_id,
                          apiVersion=form.api_version, adoption="Allow",
                          allowedRoleIds=[form.member, form.contributor])


def names_for(i: int) -> str:
    return {46: "Managed", 47: "***", 48: "Duplicate Name", 49: "Duplicate Name"}.get(
        i, f"Team App {i:02d}")


def expected_name(i: int, client_id: str) -> str:
    return {46: "managed-2", 47: client_id, 48: "duplicate-name",
            49: "duplicate-name-2"}.get(i, f"team-app-{i:02d}")


def make_clients(form: Any, prefix: str) -> dict[str, str]:
    """The 50 clients to bring in (client id -> expected resource name), one disabled."""
    made = {}
    for i in range(N):
        client_id = f"{prefix}-{i:02d}"
        form.api.create_client(form.tenant_id, {
            "ClientId": client_id, "Name": names_for(i), "RoleIds": [form.member],
            "Enabled": i != 5})
        made[client_id] = expected_name(i, client_id)
    return made


def make_others(form: Any, kube: Kube, namespace: str, tenant: str, prefix: str) -> str:
    """What import must leave out: a resource that manages a client, one that declares an
    existing client (refused: ClientIdTaken, but its spec holds the id), a client marked by
    another cluster. Returns the marked client's id."""
    kube.create_ccc(namespace, "managed", {"tenantRef": {"name": tenant},
                                           "roleIds": [form.member]})
    form.api.create_client(form.tenant_id, {"ClientId": f"{prefix}-declared", "Name": "d",
                                            "RoleIds": [form.member]})
    kube.create_ccc(namespace, "declared", {"tenantRef": {"name": tenant}, "roleIds": [
        form.member], "clientId": f"{prefix}-declared"})
    mark = "ccoperator.io/owner=elsewhere/team-x/app"
    form.api.create_client(form.tenant_id, {
        "ClientId": f"{prefix}-marked", "Name": "Marked", "RoleIds": [form.member],
        **({"Tags": [mark]} if form.api_version == "v1" else
           {"SecretDescription": f"by hand [{mark} uid=1]"})})
    wait_reasons(kube, namespace, {"managed": "ClientReady", "declared": "ClientIdTaken"})
    return f"{prefix}-marked"


def test_import_observe_manage_then_plan_says_none(
        operator_factory: Any, kube: Kube, namespace: str, tenant: str, form: Any, sim: Any,
        control_plane: Any, tmp_path: Path) -> None:
    prefix = f"imp-{form.api_version}"
    clients = make_clients(form, prefix)
    operator = operator_factory(CCOPERATOR_RESYNC_PERIOD="4s").start()
    marked = make_others(form, kube, namespace, tenant, prefix)
    operator.stop()  # nothing else writes while import and plan run (versions)
    env = cli_env(control_plane, sim, namespace, CCOPERATOR_CLUSTER_NAME=CLUSTER_NAME)
    as_json = form.api_version == "v1"
    sim.admin.clear_calls()
    before = versions(kube, [namespace])

    imported = run_cli(env, "import", "--tenant-object", f"cit/{tenant}", "-n", namespace,
                       *(("-o", "json") if as_json else ()))
    assert imported.returncode == 0, imported.stderr
    docs = parse_import(imported.stdout, as_json)
    by_id = {d["spec"]["clientId"]: d for d in docs}
    assert set(by_id) == set(clients)  # exactly the 50: not managed, declared or marked
    assert {i: d["metadata"]["name"] for i, d in by_id.items()} == clients
    assert by_id[f"{prefix}-05"]["spec"] == {
        "tenantRef": {"kind": "ClusterIdentityTenant", "name": tenant},
        "clientId": f"{prefix}-05", "name": "Team App 05", "roleIds": [form.member],
        "enabled": False, "adopt": True, "managementPolicy": "Observe"}
    assert all(d["metadata"]["namespace"] == namespace for d in docs)
    assert f"{N} client(s) of tenant {form.tenant_id}" in imported.stderr
    assert f"skipped {marked}: marked owned by elsewhere/team-x/app" in imported.stderr
    assert f"skipped {prefix}-declared: ClientCredentialClient {namespace}/declared" in (
        imported.stderr)

    # Two manifests edited on the way: their drift shows under Observe.
    both = sorted([form.member, form.contributor])
    by_id[f"{prefix}-00"]["spec"]["roleIds"] = both
    by_id[f"{prefix}-01"]["spec"]["name"] = "Renamed"
    files = write_manifests(tmp_path / "clients.yaml", docs)
    code, rows, _ = plan_json(env, "-f", str(files))
    assert code == 0, rows
    assert {r["verb"] for r in rows.values()} == {"observe"} and len(rows) == N
    assert rows["team-app-00"]["changes"] == [
        f"roleIds: spec [{', '.join(both)}] remote [{form.member}]"]
    assert rows["team-app-01"]["changes"] == ["name: spec 'Renamed' remote 'Team App 01'"]
    assert versions(kube, [namespace]) == before  # import and plan wrote nothing
    assert identity_writes(sim) == []

    operator.start()
    control_plane.kubectl("apply", "-f", str(files))
    observed = wait_reasons(kube, namespace, dict.fromkeys(clients.values(), "Observed"))
    drift = {d["metadata"]["name"]: (kube.get_ccc(namespace, d["metadata"]["name"]) or {})
             .get("status", {}).get("driftCount") for d in docs}
    assert drift == {n: (1 if n in ("team-app-00", "team-app-01") else 0)
                     for n in clients.values()}, drift
    assert "observed, never written" in observed["team-app-02"][1]
    assert identity_writes(sim) == []  # import, plan and 50 Observe passes: no write
    code, rows, _ = plan_json(env, "-f", str(files))
    assert code == 0 and {r["verb"] for r in rows.values()} == {"observe"}

    manage_and_check(env, kube, namespace, form, sim, control_plane, docs, clients, files)


def manage_and_check(env: dict[str, str], kube: Kube, namespace: str, form: Any, sim: Any,
                     control_plane: Any, docs: list[dict[str, Any]], clients: dict[str, str],
                     files: Path) -> None:
    """Switched to Manage: plan says adopt; applied, one secret each (and one update where
    the client differs, or on v1 for the tag); the Secrets work; plan then says none."""
    for doc in docs:
        doc["spec"]["managementPolicy"] = "Manage"
    write_manifests(files, docs)
    code, rows, _ = plan_json(env, "-f", str(files))
    assert code == 2 and {r["verb"] for r in rows.values()} == {"adopt"}
    assert identity_writes(sim) == []
    sim.admin.clear_calls()
    control_plane.kubectl("apply", "-f", str(files))
    wait_reasons(kube, namespace, dict.fromkeys(clients.values(), "ClientReady"))
    for client_id, name in clients.items():
        writes = sorted(route for method, route, cid in identity_writes(sim)
                        if cid == client_id)
        edited = name in ("team-app-00", "team-app-01")
        updates = ["clients.update"] if edited or form.api_version == "v1" else []
        assert writes == sorted(["secrets.add", *updates]), (name, writes)
        data = kube.secret_data(namespace, f"{name}-credentials") or {}
        assert data.get("clientId") == client_id, name
        works = token_status(sim.token_url, client_id, data.get("clientSecret", "")) == 200
        assert works is (name != "team-app-05"), name  # a disabled client gets no token
    adopted = [e for e in kube.events(namespace) if e.reason == "Adopted"]
    assert {e.involved_object.name for e in adopted} == set(clients.values())
    sim.admin.clear_calls()
    # The operator runs: tenant objects' status is its to write (checks, orphan scans).
    before = versions(kube, [namespace], tenants=False)
    final = run_cli(env, "plan", "-f", str(files))
    assert final.returncode == 0, final.stdout + final.stderr
    assert final.stdout.rstrip().endswith(f"Plan: {N} none (nothing would change).")
    assert identity_writes(sim) == []
    assert versions(kube, [namespace], tenants=False) == before


def test_plan_says_what_the_operator_then_does(
        operator_factory: Any, kube: Kube, namespace: str, tenant: str, form: Any, sim: Any,
        control_plane: Any, tmp_path: Path) -> None:
    prefix = f"tbl-{form.api_version}"
    operator = operator_factory(CCOPERATOR_RESYNC_PERIOD="4s").start()
    table_setup(form, kube, namespace, tenant, prefix)
    operator.stop()  # nothing else writes while the plan runs (versions)
    ids = {n: (kube.get_ccc(namespace, n) or {})["status"]["clientId"] for n in EXISTING}
    files = write_manifests(tmp_path / "clients.yaml",
                            table_manifests(form, sim, namespace, tenant, prefix))
    env = cli_env(control_plane, sim, namespace, CCOPERATOR_CLUSTER_NAME=CLUSTER_NAME)
    sim.admin.clear_calls()
    before = versions(kube, [namespace])
    code, rows, _ = plan_json(env, "-f", str(files), "--prune")
    assert code == 2
    assert {n: (r["verb"], r["reason"]) for n, r in rows.items()} == {
        "fresh": ("create", None), "upd": ("update", None), "rot": ("rotate", None),
        "same": ("none", None), "watcher": ("observe", None), "adopter": ("adopt", None),
        "reclaimed": ("reclaim", None), "denied": ("refused", "PolicyDenied"),
        "taker": ("refused", "ClientIdTaken"), "lost": ("refused", "TenantRefNotFound"),
        "badschema": ("refused", "Invalid"), "gone": ("delete", None),
        "kept": ("orphan", None)}
    both = ", ".join(sorted([form.member, form.contributor]))
    assert rows["upd"]["changes"] == [f"roleIds: [{form.member}] -> [{both}]"]
    assert "name: 'adopt' -> 'adopter'" in rows["adopter"]["changes"]
    assert rows["fresh"]["clientId"] == default_client_id(namespace, "fresh")
    assert "name: 'fresh'" in rows["fresh"]["changes"]
    assert rows["watcher"]["changes"] == [f"roleIds: spec [{both}] remote [{form.member}]"]
    assert identity_writes(sim) == [] and versions(kube, [namespace]) == before

    operator.start()
    applied = control_plane.kubectl("apply", "-f", str(files), check=False)
    assert applied.returncode != 0  # badschema, refused as the plan said
    assert rows["badschema"]["message"].partition("is invalid: ")[2] in applied.stderr
    control_plane.kubectl("delete", "-n", namespace, "ccc", "gone", "kept")
    now = wait_reasons(kube, namespace, {
        "fresh": "ClientReady", "adopter": "ClientReady", "reclaimed": "ClientReady",
        "watcher": "Observed", "denied": "PolicyDenied", "taker": "ClientIdTaken",
        "lost": "TenantRefNotFound"}, timeout=60)
    for name in ("denied", "taker", "lost"):
        assert now[name][1] == rows[name]["message"], name
    for name, event in (("fresh", "Created"), ("upd", "Updated"), ("rot", "Rotated"),
                        ("adopter", "Adopted"), ("reclaimed", "Reclaimed")):
        wait_for(lambda n=name, e=event: e in events_of(kube, namespace, n), timeout=30,  # type: ignore[misc]
                 what=f"{event} for {name}")
    kube.wait_gone(namespace, "kept")
    wait_for(lambda: form.api.get_client(form.tenant_id, ids["gone"]) is None, timeout=30,
             what="gone's client deleted")
    check_first_pass_writes(form, sim, namespace, prefix, ids, rows)


def test_bad_input_is_a_clear_error_and_no_side_effect(
        control_plane: Any, kube: Kube, namespace: str, e2e_tenant: str, sim: Any,
        cluster_tenant: Callable[..., str],
        restricted_kubeconfig: tuple[Path, Callable[..., None]], tmp_path: Path) -> None:
    env = cli_env(control_plane, sim, namespace, CCOPERATOR_CLUSTER_NAME=CLUSTER_NAME,
                  CCOPERATOR_IDENTITY_MAX_RETRIES="1")
    fresh = ccc("fresh", namespace, {"tenantRef": {"name": e2e_tenant},
                                     "roleIds": [sim.roles["Tenant Member"]]})
    folder = tmp_path / "manifests"
    folder.mkdir()
    good = write_manifests(folder / "all.yaml", [config_map("settings", namespace), fresh])
    (folder / "README.md").write_text("not a manifest: not read")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [unclosed\n  - {x: \n")
    with_secret = cluster_tenant(f"imp-{namespace[-6:]}",
                                 credentialsSecretRef={"name": "imp-admin"})
    sim.admin.clear_calls()
    before = versions(kube, [namespace])

    for how in (("-f", str(folder)), ("-f", "-")):
        planned = run_cli(env, "plan", *how, input=good.read_text() if "-" in how else None)
        assert planned.returncode == 2, planned.stderr  # a create
        assert f"note: skipped ConfigMap {namespace}/settings" in planned.stderr
        assert f"{namespace}/fresh" in planned.stdout and "create" in planned.stdout
    refused(env, "plan", "-f", str(bad), said=f"{bad} is not YAML at line")
    refused(env, "plan", "-f", str(tmp_path / "none.yaml"), said="no such file or folder")
    refused(env, "import", "--tenant-object", "cit/no-such-tenant", "-n", namespace,
            said="ClusterIdentityTenant no-such-tenant not found in the current cluster")
    refused(env, "import", "--tenant-object", f"cit/{e2e_tenant}", said="give the manifests' "
            "namespace with -n/--namespace", code=2)
    refused(env, "import", "--tenant-object", f"cit/{e2e_tenant}", "-n", namespace, "--id",
            "no-such-client", said=f"no client no-such-client in tenant {sim.admin_tenant_id}")
    closed = f"http://127.0.0.1:{free_port()}"
    down = cli_env(control_plane, sim, namespace, CCOPERATOR_CLUSTER_NAME=CLUSTER_NAME,
                   CCOPERATOR_IDENTITY_MAX_RETRIES="1", CCOPERATOR_IDENTITY_URL=closed)
    refused(down, "import", "--tenant-object", f"cit/{e2e_tenant}", "-n", namespace,
            said=f"the identity service at {closed} did not answer")
    refused(down, "plan", "-f", str(good),
            said=f"cannot plan {namespace}/fresh: the identity service did not answer")

    path, grant = restricted_kubeconfig
    limited = cli_env(control_plane, sim, namespace, kubeconfig=path,
                      CCOPERATOR_CLUSTER_NAME=CLUSTER_NAME)
    target = ("import", "--tenant-object", f"cit/{with_secret}", "-n", namespace)
    refused(limited, *target, said=f"cannot read ClusterIdentityTenant {with_secret}: "
            "forbidden to the kubeconfig's user")
    refused(limited, "plan", "-f", str(good), said="forbidden to the kubeconfig's user")
    grant("tenants", [{"apiGroups": [GROUP], "resources": ["clusteridentitytenants"],
                       "verbs": ["get"]}])
    refused(limited, *target, said=f"cannot read the credentials Secret of "
            f"ClusterIdentityTenant {with_secret}: forbidden to the kubeconfig's user")
    assert identity_writes(sim) == []
    assert versions(kube, [namespace]) == before


def test_the_kubectl_plugin_runs_plan_and_import(
        control_plane: Any, namespace: str, e2e_tenant: str, sim: Any, tmp_path: Path) -> None:
    venv_bin = Path(sys.executable).parent
    helped = subprocess.run([str(venv_bin / "kubectl-ccoperator"), "plan", "--help"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert helped.returncode == 0 and "usage: kubectl ccoperator plan" in helped.stdout
    assert "terraform plan -detailed-exitcode" in helped.stdout
    env = {**cli_env(control_plane, sim, namespace, CCOPERATOR_CLUSTER_NAME=CLUSTER_NAME),
           "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    kubectl = str(build.binary("kubectl"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([kubectl, *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    assert "kubectl-ccoperator" in run("plugin", "list").stdout
    usage = run("ccoperator", "--help")
    assert usage.returncode == 0 and "kubectl ccoperator {plan,import}" in usage.stdout
    assert "usage: kubectl ccoperator import" in run("ccoperator", "import", "--help").stdout
    files = write_manifests(tmp_path / "one.yaml", [ccc("via-kubectl", namespace, {
        "tenantRef": {"name": e2e_tenant}, "roleIds": [sim.roles["Tenant Member"]]})])
    planned = run("ccoperator", "plan", "-f", str(files))
    assert planned.returncode == 2, planned.stderr
    assert f"{namespace}/via-kubectl" in planned.stdout and "Plan: 1 create" in planned.stdout
    imported = run("ccoperator", "import", "--tenant-object", f"cit/{e2e_tenant}", "-n",
                   namespace)
    assert imported.returncode == 0, imported.stderr
