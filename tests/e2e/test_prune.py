"""`ccoperator prune` end to end: a cluster named "gone" made clients and went away (its
operator stopped, its resources removed without it); a cluster named "live" manages others in
the same tenant. `prune --cluster-name gone --dry-run` lists exactly gone's clients and writes
nothing; without --dry-run it deletes exactly those it listed for deletion, and live's clients
keep working. Both forms of the identity API. Then the refusals, each exit status 1 with a
message and no write: unknown tenant object, credentials missing or forbidden (RBAC), the
identity service unreachable or refusing the credentials.

The command runs as a process (`python -m ccoperator.cli prune`) with the environment an
operator has: KUBECONFIG, CCOPERATOR_IDENTITY_URL, CCOPERATOR_CLIENT_ID/_SECRET,
CCOPERATOR_NAMESPACE.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from .support import (
    Kube,
    OperatorProcess,
    cli_env,
    free_port,
    identity_writes,
    run_cli,
    token_status,
    wait_for,
)

GROUP, VERSION, PLURAL = "identity.ccoperator.io", "v1alpha1", "clientcredentialclients"


def run_prune(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(env, "prune", *args)


def strip_and_delete(kube: Kube, namespace: str, name: str) -> None:
    """Remove a resource without its operator (which is stopped): its finalizer goes first."""
    kube.patch_ccc(namespace, name, {"metadata": {"finalizers": None}})
    kube.delete_ccc(namespace, name)
    kube.wait_gone(namespace, name, timeout=30)


def no_secret_in(result: subprocess.CompletedProcess[str], *secrets: str) -> bool:
    return not any(s in result.stdout or s in result.stderr for s in secrets)


@pytest.fixture
def gone_and_live(operator_factory: Any, kube: Kube, namespace: str, other_namespace: str,
                  form: Any, control_plane: Any, sim: Any) -> dict[str, Any]:
    """Cluster "gone" (namespace): a, b (derived ids), c (its own id) and r (released: deleted
    with deletionPolicy Orphan); "held", a resource of the current cluster created after gone
    stopped, records b's id. Cluster "live" (other_namespace): l1, l2, Ready. And one client
    nobody marked."""
    gone: OperatorProcess = operator_factory(CCOPERATOR_CLUSTER_NAME="gone").start()
    own_id = f"prune-c-{namespace[-6:]}"
    for name, over in (("a", {}), ("b", {}), ("c", {"clientId": own_id}),
                       ("r", {"deletionPolicy": "Orphan"})):
        kube.create_ccc(namespace, name, form.spec(**over))
    ids = {n: kube.wait_ready(namespace, n)["status"]["clientId"] for n in "abcr"}
    kube.delete_ccc(namespace, "r")
    kube.wait_gone(namespace, "r")
    gone.stop()
    env = cli_env(control_plane, sim, namespace)
    # While gone's resources are still here, the current cluster *is* gone: refused.
    sim.admin.clear_calls()
    refused = run_prune(env, "--tenant-object", f"cit/{form.tenant_ref}", "--cluster-name",
                        "gone", "--dry-run")
    assert refused.returncode == 1, refused.stderr
    assert "cluster gone is not gone: 3 ClientCredentialClient(s)" in refused.stderr
    assert sim.admin.calls() == []  # refused before any identity call
    for name in "abc":
        strip_and_delete(kube, namespace, name)
    kube.create_ccc(namespace, "held", form.spec())
    kube.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "held",
        {"status": {"clientId": ids["b"], "tenantId": form.tenant_id}})
    live = operator_factory(namespaces=[other_namespace], CCOPERATOR_CLUSTER_NAME="live").start()
    for name in ("l1", "l2"):
        kube.create_ccc(other_namespace, name, form.spec())
    live_ids = {n: kube.wait_ready(other_namespace, n)["status"]["clientId"] for n in ("l1", "l2")}
    form.api.create_client(form.tenant_id, {"ClientId": f"unmarked-{namespace[-6:]}",
                                            "Name": "by hand", "RoleIds": [form.member]})
    return {"ids": ids, "live_ids": live_ids, "env": env, "live": live}


def test_prune_lists_then_deletes_exactly_the_gone_clusters_clients(
        gone_and_live: dict[str, Any], kube: Kube, namespace: str, other_namespace: str,
        form: Any, sim: Any) -> None:
    ids, env = gone_and_live["ids"], gone_and_live["env"]
    target = ("--tenant-object", f"cit/{form.tenant_ref}", "--cluster-name", "gone")
    held_version = kube.get_ccc(namespace, "held")["metadata"]["resourceVersion"]  # type: ignore[index]
    sim.admin.clear_calls()

    dry = run_prune(env, *target, "--dry-run", "-o", "json")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    listed = {c["clientId"]: c for c in doc["clients"]}
    assert set(listed) == set(ids.values())  # exactly gone's: not live's, not the unmarked
    assert {n: listed[i]["action"] for n, i in ids.items()} == {
        "a": "delete", "b": "keep", "c": "delete", "r": "keep"}
    assert {n: listed[i]["owner"] for n, i in ids.items()} == {
        n: f"{namespace}/{n}" for n in "abcr"}
    assert listed[ids["r"]]["mark"] == "released"
    assert f"ClientCredentialClient {namespace}/held" in listed[ids["b"]]["reason"]
    assert (doc["dryRun"], doc["apiVersion"], doc["tenantId"]) == (
        True, form.api_version, form.tenant_id)
    table = run_prune(env, *target, "--dry-run")
    assert table.returncode == 0, table.stderr
    assert all(i in table.stdout for i in ids.values())
    assert f"{namespace}/a" in table.stdout and "released" in table.stdout
    assert table.stdout.rstrip().endswith("dry run: would delete 2, skip 2; nothing was deleted")
    assert identity_writes(sim) == []
    assert no_secret_in(dry, sim.admin_client_secret) and no_secret_in(table,
                                                                       sim.admin_client_secret)

    done = run_prune(env, *target)  # not a terminal: shows the list, then deletes
    assert done.returncode == 0, done.stderr
    assert done.stdout.index("CLIENT ID") < done.stdout.index(f"{ids['a']}: deleted")
    assert done.stdout.rstrip().endswith("deleted 2, skipped 2")
    assert sorted(identity_writes(sim)) == sorted(
        [("DELETE", "clients.delete", ids["a"]), ("DELETE", "clients.delete", ids["c"])])
    assert form.api.get_client(form.tenant_id, ids["a"]) is None
    assert form.api.get_client(form.tenant_id, ids["c"]) is None
    for kept in (ids["b"], ids["r"], f"unmarked-{namespace[-6:]}",
                 *gone_and_live["live_ids"].values()):
        assert form.api.get_client(form.tenant_id, kept) is not None, kept
    for name in ("l1", "l2"):
        data = kube.secret_data(other_namespace, f"{name}-credentials")
        assert data and token_status(sim.token_url, data["clientId"], data["clientSecret"]) == 200
        assert kube.ready(other_namespace, name)

    released = run_prune(env, *target, "--include-released", "--yes", "-o", "json")
    assert released.returncode == 0, released.stderr
    results = {c["clientId"]: c["result"] for c in json.loads(released.stdout)["clients"]}
    assert results == {ids["b"]: None, ids["r"]: "deleted"}
    assert form.api.get_client(form.tenant_id, ids["r"]) is None
    assert form.api.get_client(form.tenant_id, ids["b"]) is not None
    # prune never wrote to Kubernetes: the resource it read is as it was.
    assert kube.get_ccc(namespace, "held")["metadata"]["resourceVersion"] == held_version  # type: ignore[index]


def refused(env: dict[str, str], *args: str, said: str) -> subprocess.CompletedProcess[str]:
    """Run until the answer says `said` (RBAC changes reach the authorizer within moments)."""
    def attempt() -> subprocess.CompletedProcess[str] | None:
        result = run_prune(env, *args)
        return result if said in result.stderr else None
    try:
        result = wait_for(attempt, timeout=20, interval=0.5, what=said)
    except AssertionError:
        last = run_prune(env, *args)
        raise AssertionError(f"{said!r} not in:\n{last.stderr}") from None
    assert result.returncode == 1 and result.stdout == "", result
    return result


def test_refusals_are_exit_1_with_a_clear_message_and_no_write(
        control_plane: Any, kube: Kube, namespace: str, e2e_tenant: str, sim: Any,
        cluster_tenant: Callable[..., str],
        restricted_kubeconfig: tuple[Path, Callable[..., None]]) -> None:
    env = cli_env(control_plane, sim, namespace)
    cit = ("--cluster-name", "gone", "--dry-run", "--tenant-object")
    sim.admin.clear_calls()
    refused(env, *cit, "cit/no-such-tenant", said="ClusterIdentityTenant no-such-tenant not "
            "found in the current cluster")
    refused(env, *cit, "it/no-such-tenant", "-n", namespace,
            said=f"IdentityTenant {namespace}/no-such-tenant not found")
    usage = run_prune(env, *cit, "it/x")
    assert usage.returncode == 2 and "give its namespace with -n/--namespace" in usage.stderr
    closed = f"http://127.0.0.1:{free_port()}"
    down = refused(env, *cit, f"cit/{e2e_tenant}", "--identity-url", closed,
                   said=f"the identity service at {closed} did not answer")
    assert "ConnectError" in down.stderr or "connect" in down.stderr.lower()
    wrong = cli_env(control_plane, sim, namespace, CCOPERATOR_CLIENT_SECRET="wrong-secret-0")
    refused(wrong, *cit, f"cit/{e2e_tenant}", said=f"refused the credentials of "
            f"ClusterIdentityTenant {e2e_tenant} (client id {sim.admin_client_id})")

    with_secret = cluster_tenant(f"prune-{namespace[-6:]}",
                                 credentialsSecretRef={"name": "prune-admin"})
    refused(env, *cit, f"cit/{with_secret}",
            said=f"Secret {namespace}/prune-admin does not exist")
    nowhere = cli_env(control_plane, sim, None)
    refused(nowhere, *cit, f"cit/{with_secret}", said="--operator-namespace")
    kube.core.create_namespaced_secret(namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="prune-admin"),
        string_data={"clientId": sim.admin_client_id, "clientSecret": sim.admin_client_secret}))

    path, grant = restricted_kubeconfig
    limited = cli_env(control_plane, sim, namespace, kubeconfig=path)
    refused(limited, *cit, f"cit/{with_secret}", said=f"cannot read ClusterIdentityTenant "
            f"{with_secret}: forbidden to the kubeconfig's user")
    grant("tenants", [{"apiGroups": [GROUP], "resources": ["clusteridentitytenants"],
                       "verbs": ["get"]}])
    refused(limited, *cit, f"cit/{with_secret}", said=f"cannot read the credentials Secret of "
            f"ClusterIdentityTenant {with_secret}: forbidden to the kubeconfig's user")
    grant("secret", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
                      "resourceNames": ["prune-admin"]}], in_namespace=namespace)
    refused(limited, *cit, f"cit/{with_secret}", said="cannot list the current cluster's "
            "ClientCredentialClients")
    forced = run_prune(limited, *cit, f"cit/{with_secret}", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "warning: cannot list ClientCredentialClients" in forced.stderr
    assert "dry run: would delete 0, skip 0" in forced.stdout
    assert identity_writes(sim) == []
