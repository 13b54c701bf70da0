"""Proof that the test control plane is a real Kubernetes API, not a mock.

Each test exercises behaviour only a real kube-apiserver (+ kube-controller-manager) has:
OpenAPI schema validation, the status subresource, watches, RBAC, garbage collection,
namespace finalization, persistence across an apiserver restart, audit logging, clean-up.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ccoperator_envtest import versions
from ccoperator_envtest.cluster import (
    Cluster,
    ControlPlane,
    KubectlError,
    api_client_from_kubeconfig,
    wait_crd_established,
)
from ccoperator_envtest.fixtures import ENV_KUBECONFIG, ServiceAccountToken, TokenKubeconfig
from kubernetes import client, watch

pytestmark = pytest.mark.controlplane

CRD_FILE = Path(__file__).parent / "data" / "widget-crd.yaml"
GROUP, VERSION, PLURAL = "harness.ccoperator.test", "v1", "widgets"
REPO_ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def gone(read: Callable[[], Any]) -> bool:
    try:
        read()
    except client.ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def as_dict(obj: object) -> dict[str, Any]:
    """CustomObjectsApi returns plain dicts typed as `object`."""
    assert isinstance(obj, dict)
    return obj


def widget(name: str, size: int, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget",
            "metadata": {"name": name}, "spec": {"size": size, **spec}}


@pytest.fixture(scope="module")
def widget_crd(control_plane: Cluster) -> Iterator[None]:
    control_plane.kubectl("apply", "-f", str(CRD_FILE))
    wait_crd_established(control_plane, f"{PLURAL}.{GROUP}")
    yield
    control_plane.kubectl("delete", "-f", str(CRD_FILE), "--wait=false", check=False)


def test_version_is_the_pinned_release(control_plane: Cluster) -> None:
    if os.environ.get(ENV_KUBECONFIG):
        pytest.skip("external cluster: version is whatever it runs")
    out = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"] == versions.KUBERNETES_VERSION


def test_crd_schema_validation_rejects_bad_object(control_plane: Cluster, namespace: str,
                                                  widget_crd: None) -> None:
    bad = json.dumps(widget("bad", 0, color="purple"))
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=bad, check=False)
    assert result.returncode != 0
    assert 'The Widget "bad" is invalid' in result.stderr
    assert "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1" \
        in result.stderr
    assert 'spec.color: Unsupported value: "purple"' in result.stderr

    good = json.dumps(widget("good", 3, color="red"))
    result = control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=good)
    assert "widget.harness.ccoperator.test/good created" in result.stdout


def test_status_subresource(objects: client.CustomObjectsApi, namespace: str,
                            widget_crd: None) -> None:
    created = as_dict(objects.create_namespaced_custom_object(GROUP, VERSION, namespace,
                                                              PLURAL, widget("w", 2)))
    assert created["metadata"]["generation"] == 1

    # Status goes through /status only, and does not bump generation.
    after_status = as_dict(objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "w",
        {"status": {"phase": "Ready", "observedGeneration": 1}}))
    assert after_status["status"] == {"phase": "Ready", "observedGeneration": 1}
    assert after_status["metadata"]["generation"] == 1

    # A write to the main resource bumps generation and silently drops status changes.
    after_spec = as_dict(objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "w",
        {"spec": {"size": 5}, "status": {"phase": "Hacked"}}))
    assert after_spec["spec"]["size"] == 5
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["status"] == {"phase": "Ready", "observedGeneration": 1}


def test_watch_delivers_added_modified_deleted(objects: client.CustomObjectsApi,
                                               namespace: str, widget_crd: None) -> None:
    listing = as_dict(objects.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    since = listing["metadata"]["resourceVersion"]

    objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, widget("w", 1))
    objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w",
                                           {"spec": {"size": 7}})
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "w")

    # Watching from the list's resourceVersion replays exactly what happened since.
    seen: list[tuple[str, int]] = []
    stream = watch.Watch()  # type: ignore[no-untyped-call]
    events = stream.stream(  # type: ignore[no-untyped-call]
        objects.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
        resource_version=since, timeout_seconds=15)
    for event in events:
        seen.append((event["type"], event["object"]["spec"]["size"]))
        if event["type"] == "DELETED":
            stream.stop()  # type: ignore[no-untyped-call]
    assert seen == [("ADDED", 1), ("MODIFIED", 7), ("DELETED", 7)]


def test_secret_create_patch_delete(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="creds"), string_data={"client_id": "abc"}))
    secret = core.read_namespaced_secret("creds", namespace)
    assert secret.type == "Opaque" and secret.data is not None
    assert base64.b64decode(secret.data["client_id"]) == b"abc"

    # Strategic merge: stringData adds a key, a null in data removes one.
    core.patch_namespaced_secret("creds", namespace, {"stringData": {"client_secret": "s3"}})
    core.patch_namespaced_secret("creds", namespace, {"data": {"client_id": None}})
    secret = core.read_namespaced_secret("creds", namespace)
    assert secret.data is not None
    assert set(secret.data) == {"client_secret"}
    assert base64.b64decode(secret.data["client_secret"]) == b"s3"

    core.delete_namespaced_secret("creds", namespace)
    assert gone(lambda: core.read_namespaced_secret("creds", namespace))


def test_rbac_denies_unprivileged_service_account(
        control_plane: Cluster, k8s_api: client.ApiClient, namespace: str,
        service_account_token: ServiceAccountToken, token_kubeconfig: TokenKubeconfig) -> None:
    token = service_account_token(namespace, "nobody", 600)
    kubeconfig = token_kubeconfig(token, namespace)

    with api_client_from_kubeconfig(kubeconfig) as api:
        with pytest.raises(client.ApiException) as denied:
            client.CoreV1Api(api).list_namespaced_secret(namespace)
        assert denied.value.status == 403
        assert (f'User \\"system:serviceaccount:{namespace}:nobody\\" cannot list resource '
                f'\\"secrets\\"') in str(denied.value.body)

        # Same identity, now granted configmaps only: authn is real, authz is per rule.
        rbac = client.RbacAuthorizationV1Api(k8s_api)
        rbac.create_namespaced_role(namespace, client.V1Role(
            metadata=client.V1ObjectMeta(name="cm-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"],
                                       verbs=["get", "list"])]))
        rbac.create_namespaced_role_binding(namespace, client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="cm-reader"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role",
                                      name="cm-reader"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="nobody",
                                           namespace=namespace)]))

        def can_list_configmaps() -> bool:
            try:
                client.CoreV1Api(api).list_namespaced_config_map(namespace)
            except client.ApiException as exc:
                assert exc.status == 403
                return False
            return True

        # The RBAC authorizer reads from an informer cache: the grant lands within moments.
        wait_for(can_list_configmaps, 10, "RoleBinding to take effect")

    result = control_plane.kubectl("get", "secrets", "-n", namespace, kubeconfig=kubeconfig,
                                   check=False)
    assert result.returncode != 0
    assert "Forbidden" in result.stderr

    # A forged token is not even authenticated.
    bad = token_kubeconfig(token[:-4] + "AAAA", namespace)
    with api_client_from_kubeconfig(bad) as api, pytest.raises(client.ApiException) as unauth:
        client.CoreV1Api(api).list_namespaced_config_map(namespace)
    assert unauth.value.status == 401


def _owned_pair(core: client.CoreV1Api, namespace: str, prefix: str) -> None:
    owner = core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=f"{prefix}-owner")))
    assert owner.metadata is not None
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=f"{prefix}-dependent", owner_references=[
            client.V1OwnerReference(api_version="v1", kind="ConfigMap", name=owner.metadata.name,
                                    uid=owner.metadata.uid, block_owner_deletion=True)])))


def test_garbage_collection_of_owned_object(core: client.CoreV1Api, namespace: str) -> None:
    # Background: owner goes at once, the garbage collector removes the dependent after.
    _owned_pair(core, namespace, "bg")
    core.delete_namespaced_config_map("bg-owner", namespace, propagation_policy="Background")
    wait_for(lambda: gone(lambda: core.read_namespaced_config_map("bg-dependent", namespace)),
             30, "garbage collection of bg-dependent")

    # Foreground: only the garbage collector removes the owner's foregroundDeletion finalizer,
    # after the dependent is gone; without a running GC the owner would stay forever.
    _owned_pair(core, namespace, "fg")
    core.delete_namespaced_config_map("fg-owner", namespace, propagation_policy="Foreground")
    wait_for(lambda: gone(lambda: core.read_namespaced_config_map("fg-owner", namespace)),
             30, "foreground deletion of fg-owner")
    assert gone(lambda: core.read_namespaced_config_map("fg-dependent", namespace))


def test_garbage_collection_with_custom_resource_owner(
        control_plane: Cluster, core: client.CoreV1Api, objects: client.CustomObjectsApi,
        namespace: str, widget_crd: None) -> None:
    owner = as_dict(objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                            widget("owner", 1)))
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="owned-by-widget", owner_references=[
            client.V1OwnerReference(api_version=f"{GROUP}/{VERSION}", kind="Widget",
                                    name="owner", uid=owner["metadata"]["uid"])])))
    objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "owner")
    # The CRD is younger than kube-controller-manager: without ControlPlane.gc_follows_crds
    # the GC would only notice the Widget type at its next 30 s discovery (~40 s measured).
    timeout = 15 if isinstance(control_plane, ControlPlane) else 60
    wait_for(lambda: gone(lambda: core.read_namespaced_config_map("owned-by-widget",
                                                                  namespace)),
             timeout, "garbage collection of a Widget-owned ConfigMap")


def test_namespace_deletion_completes(core: client.CoreV1Api, objects: client.CustomObjectsApi,
                                      widget_crd: None) -> None:
    name = f"t-nsdel-{os.urandom(3).hex()}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(name, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="content")))
    core.create_namespaced_secret(name, client.V1Secret(
        metadata=client.V1ObjectMeta(name="content"), string_data={"k": "v"}))
    objects.create_namespaced_custom_object(GROUP, VERSION, name, PLURAL, widget("content", 1))

    core.delete_namespace(name)
    # The namespace controller must delete all content (custom resources included) and then
    # drop the `kubernetes` finalizer; only then does the namespace disappear.
    wait_for(lambda: gone(lambda: core.read_namespace(name)), 60, f"namespace {name} to go")


def test_audit_log_and_clean_stop() -> None:
    if os.environ.get(ENV_KUBECONFIG):
        pytest.skip("starts its own control plane; CCOPERATOR_TEST_KUBECONFIG forbids that")
    with ControlPlane(with_controller_manager=False, audit_log=True) as plane:
        assert plane.audit_log_path is not None
        workdir, pids = plane.workdir, plane.pids
        assert set(pids) == {"etcd", "kube-apiserver"}
        plane.kubectl("create", "configmap", "audited", "-n", "default",
                      "--from-literal=a=1")
        plane.kubectl("patch", "configmap", "audited", "-n", "default", "-p",
                      '{"data":{"a":"2"}}')
        writes = [e for e in plane.audit_events()
                  if e.get("objectRef", {}).get("resource") == "configmaps"
                  and e["objectRef"].get("name") == "audited"
                  and e["verb"] in ("create", "update", "patch")]
        assert [(e["verb"], e["stage"], e["level"]) for e in writes] == [
            ("create", "ResponseComplete", "Metadata"), ("patch", "ResponseComplete", "Metadata")]
        assert writes[0]["user"]["username"] == "admin"
    assert not workdir.exists()
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


_CHILD = textwrap.dedent("""
    import json, sys, time
    from ccoperator_envtest.cluster import ControlPlane
    plane = ControlPlane(with_controller_manager=False).start()
    print(json.dumps({"workdir": str(plane.workdir), "pids": list(plane.pids.values())}),
          flush=True)
    time.sleep(120)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_no_leftovers_when_owner_is_killed(sig: signal.Signals) -> None:
    if os.environ.get(ENV_KUBECONFIG):
        pytest.skip("starts its own control plane; CCOPERATOR_TEST_KUBECONFIG forbids that")
    from ccoperator_envtest.components import pid_alive, sweep_orphans

    child = subprocess.Popen([sys.executable, "-c", _CHILD], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        workdir, pids = Path(info["workdir"]), info["pids"]
        assert workdir.exists() and all(pid_alive(p) for p in pids)
        child.send_signal(sig)
        assert child.wait(timeout=30) == -sig
    finally:
        child.kill()
        child.wait()
    # SIGTERM: the handler stopped everything. SIGKILL: PR_SET_PDEATHSIG killed the
    # components; the orphaned temp dir is swept by the next start (called directly here).
    wait_for(lambda: not any(pid_alive(p) for p in pids), 10, "components to die")
    if sig == signal.SIGKILL:
        sweep_orphans()
    assert not workdir.exists()


# Last on purpose: a restart briefly takes the session's apiserver away.
def test_apiserver_restart_keeps_data(control_plane: Cluster, core: client.CoreV1Api,
                                      namespace: str) -> None:
    if not control_plane.supports_restart:
        pytest.skip("external cluster: the apiserver is not ours to restart")
    core.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="survivor"), data={"k": "v"}))
    assert isinstance(control_plane, ControlPlane)
    before = control_plane.pids["kube-apiserver"]

    control_plane.restart_apiserver()

    assert control_plane.pids["kube-apiserver"] != before
    # The session's existing client reconnects; the data came back from etcd.
    assert core.read_namespaced_config_map("survivor", namespace).data == {"k": "v"}
    out = control_plane.kubectl("get", "configmap", "survivor", "-n", namespace,
                                "-o", "jsonpath={.data.k}")
    assert out.stdout == "v"
    with pytest.raises(KubectlError, match="NotFound"):
        control_plane.kubectl("get", "configmap", "never-created", "-n", namespace)
