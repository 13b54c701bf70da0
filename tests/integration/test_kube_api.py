"""`KubeApi` (aiohttp, plain JSON) against the real kube-apiserver.

Every semantic the controller relies on is checked here on the wire: 404s, create-only and
resourceVersion-guarded writes, the uid-preconditioned delete of only our own Secret, the
merge patch of the status subresource, both ways of authenticating (client certificate and
bearer token), and that failures carry a status but never a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ccoperator.api.clients import GROUP, PLURAL, VERSION
from ccoperator.api.secrets import SecretObject
from ccoperator.app import kube_configuration
from ccoperator.kube.api import KubeApi, KubeApiError, KubeConflict, Owner
from ccoperator.kube.http import HttpLimits, connect
from ccoperator_envtest.cluster import Cluster
from ccoperator_envtest.fixtures import ServiceAccountToken, TokenKubeconfig
from kubernetes import client

pytestmark = pytest.mark.controlplane

REPO = Path(__file__).resolve().parents[2]
CLUSTER_ROLE = REPO / "deploy" / "base" / "clusterrole.yaml"
SECRET_KEY = "clientSecret"
# Any role id in the UUID form the CRD admits; no identity service reads it here.
ROLE = "00000000-0000-4000-8000-000000000001"
T = TypeVar("T")


@contextlib.asynccontextmanager
async def kube_api(configuration: Any, limits: HttpLimits | None = None
                   ) -> AsyncIterator[KubeApi]:
    http = connect(configuration, limits)
    try:
        yield KubeApi(http)
    finally:
        await http.close()


@pytest.fixture
async def admin(kubeconfig: Path) -> AsyncIterator[KubeApi]:
    """KubeApi over the control plane's admin kubeconfig (a client certificate)."""
    async with kube_api(kube_configuration(str(kubeconfig))) as api:
        yield api


@pytest.fixture
def make_owner(crd: str, objects: client.CustomObjectsApi,
               namespace: str) -> Callable[[str], Owner]:
    """A real ClientCredentialClient to own Secrets: an ownerReference to a uid that does not
    exist would let the garbage collector delete the Secret in the middle of a test."""

    def make(name: str) -> Owner:
        body = objects.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ClientCredentialClient",
            "metadata": {"name": name},
            "spec": {"tenantRef": {"name": "tenant-a"}, "roleIds": [ROLE]},
        })
        assert isinstance(body, dict)
        return Owner(name=name, namespace=namespace, uid=body["metadata"]["uid"])

    return make


async def write_new(api: KubeApi, owner: Owner, name: str, value: str = "s3cr3t") -> str:
    return await api.write_secret(
        owner, name, {"clientId": "cid", SECRET_KEY: value},
        labels={"app.kubernetes.io/managed-by": "ccoperator"},
        annotations={"identity.ccoperator.io/secret-id": "1"}, existing=None)


async def get(api: KubeApi, owner: Owner, name: str) -> SecretObject:
    secret = await api.get_secret(owner.namespace, name, owner.uid, SECRET_KEY)
    assert secret is not None
    return secret


async def eventually(call: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """Retry while RBAC grants propagate (the authorizer reads from an informer cache)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except KubeApiError as exc:
            if exc.status != 403 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


# ------------------------------------------------------------------------------- Secrets

async def test_missing_secret_is_none(admin: KubeApi, namespace: str) -> None:
    assert await admin.get_secret(namespace, "nothing-here", "some-uid", SECRET_KEY) is None


async def test_create_then_get_round_trip(admin: KubeApi, make_owner: Callable[[str], Owner],
                                          core: client.CoreV1Api) -> None:
    owner = make_owner("app")
    version = await write_new(admin, owner, "app-credentials", value="välue-1")

    secret = await get(admin, owner, "app-credentials")
    assert secret.name == "app-credentials"
    assert secret.owned
    assert secret.resource_version == version
    assert secret.labels == {"app.kubernetes.io/managed-by": "ccoperator"}
    assert secret.annotations == {"identity.ccoperator.io/secret-id": "1"}
    assert secret.data == {"clientId": "cid", SECRET_KEY: "välue-1"}
    assert secret.secret_value is not None
    assert secret.secret_value.get_secret_value() == "välue-1"

    # The same Secret, seen by someone else's owner uid, is not ours.
    other = await admin.get_secret(owner.namespace, "app-credentials", str(uuid.uuid4()),
                                   SECRET_KEY)
    assert other is not None and not other.owned

    # What the official client reads back: an Opaque Secret with our controller reference.
    stored = core.read_namespaced_secret("app-credentials", owner.namespace)
    assert stored.type == "Opaque"
    assert [(r.uid, r.controller, r.block_owner_deletion, r.kind)
            for r in stored.metadata.owner_references] == [
        (owner.uid, True, True, "ClientCredentialClient")]


async def test_replace_keeps_foreign_metadata_and_guards_the_version(
        admin: KubeApi, make_owner: Callable[[str], Owner], core: client.CoreV1Api) -> None:
    owner = make_owner("app")
    await write_new(admin, owner, "app-credentials")
    core.patch_namespaced_secret("app-credentials", owner.namespace, {"metadata": {
        "labels": {"team": "blue"}, "annotations": {"note": "theirs"}}})
    current = await get(admin, owner, "app-credentials")

    version = await admin.write_secret(
        owner, "app-credentials", {"clientId": "cid", SECRET_KEY: "new"},
        labels={"app.kubernetes.io/managed-by": "ccoperator"},
        annotations={"identity.ccoperator.io/secret-id": "2"}, existing=current)
    assert version != current.resource_version

    replaced = await get(admin, owner, "app-credentials")
    assert replaced.resource_version == version
    assert replaced.data == {"clientId": "cid", SECRET_KEY: "new"}
    assert replaced.labels == {"app.kubernetes.io/managed-by": "ccoperator", "team": "blue"}
    assert replaced.annotations == {"identity.ccoperator.io/secret-id": "2", "note": "theirs"}

    # `current` now holds a stale resourceVersion: the PUT must not overwrite.
    with pytest.raises(KubeConflict):
        await admin.write_secret(owner, "app-credentials", {SECRET_KEY: "lost"},
                                 labels={}, annotations={}, existing=current)
    assert (await get(admin, owner, "app-credentials")).data[SECRET_KEY] == "new"


async def test_replace_of_a_deleted_secret_conflicts(
        admin: KubeApi, make_owner: Callable[[str], Owner], core: client.CoreV1Api) -> None:
    owner = make_owner("app")
    await write_new(admin, owner, "app-credentials")
    current = await get(admin, owner, "app-credentials")
    core.delete_namespaced_secret("app-credentials", owner.namespace)
    with pytest.raises(KubeConflict):
        await admin.write_secret(owner, "app-credentials", {SECRET_KEY: "x"},
                                 labels={}, annotations={}, existing=current)


async def test_create_when_it_exists_conflicts(
        admin: KubeApi, make_owner: Callable[[str], Owner]) -> None:
    owner = make_owner("app")
    await write_new(admin, owner, "app-credentials", value="first")
    with pytest.raises(KubeConflict):
        await write_new(admin, owner, "app-credentials", value="second")
    assert (await get(admin, owner, "app-credentials")).data[SECRET_KEY] == "first"


async def test_delete_leaves_a_secret_controlled_by_another_uid(
        admin: KubeApi, make_owner: Callable[[str], Owner], core: client.CoreV1Api) -> None:
    ours, theirs = make_owner("ours"), make_owner("theirs")
    await write_new(admin, theirs, "shared-name")
    core.create_namespaced_secret(ours.namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="unowned"), string_data={"k": "v"}))

    await admin.delete_secret(ours.namespace, "shared-name", ours.uid)
    await admin.delete_secret(ours.namespace, "unowned", ours.uid)

    assert (await get(admin, theirs, "shared-name")).owned
    assert await admin.get_secret(ours.namespace, "unowned", ours.uid, "k") is not None


async def test_delete_removes_ours_and_a_missing_one_is_fine(
        admin: KubeApi, make_owner: Callable[[str], Owner]) -> None:
    owner = make_owner("app")
    await write_new(admin, owner, "app-credentials")
    await admin.delete_secret(owner.namespace, "app-credentials", owner.uid)
    assert await admin.get_secret(owner.namespace, "app-credentials", owner.uid,
                                  SECRET_KEY) is None
    await admin.delete_secret(owner.namespace, "app-credentials", owner.uid)


# ------------------------------------------------------------------------------- status

async def test_patch_status_merges_into_the_status_subresource(
        admin: KubeApi, make_owner: Callable[[str], Owner],
        objects: client.CustomObjectsApi) -> None:
    owner = make_owner("app")
    await admin.patch_status(owner.namespace, "app",
                             {"clientId": "cid-1", "secretName": "app-credentials"})
    await admin.patch_status(owner.namespace, "app", {"secretName": None, "adopted": False})

    body = objects.get_namespaced_custom_object(GROUP, VERSION, owner.namespace, PLURAL, "app")
    assert isinstance(body, dict)
    # A merge patch: keys set, a null removes one, the others stay (observedGeneration: the
    # CRD's default until the operator writes one); the spec is untouched.
    assert body["status"] == {"clientId": "cid-1", "adopted": False, "observedGeneration": 0}
    assert (body["spec"]["tenantRef"]["name"], body["spec"]["roleIds"]) == ("tenant-a", [ROLE])


async def test_patch_status_of_a_missing_resource_conflicts(
        admin: KubeApi, crd: str, namespace: str) -> None:
    with pytest.raises(KubeConflict):
        await admin.patch_status(namespace, "no-such-client", {"clientId": "x"})


# ------------------------------------------------------------------------------- auth

def test_admin_kubeconfig_authenticates_with_a_client_certificate(kubeconfig: Path) -> None:
    # So that the `admin` fixture above is what proves client-certificate auth works.
    configuration = kube_configuration(str(kubeconfig))
    assert configuration.cert_file and configuration.key_file
    assert configuration.get_api_key_with_prefix("BearerToken", alias="authorization") is None


@pytest.fixture
def operator_token(control_plane: Cluster, namespace: str, core: client.CoreV1Api,
                   k8s_api: client.ApiClient,
                   service_account_token: ServiceAccountToken) -> str:
    """A ServiceAccount token bound, in `namespace`, to the operator's own ClusterRole."""
    control_plane.kubectl("apply", "-f", str(CLUSTER_ROLE))
    client.RbacAuthorizationV1Api(k8s_api).create_namespaced_role_binding(
        namespace, client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="ccoperator"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io",
                                      kind="ClusterRole", name="ccoperator"),
            subjects=[client.RbacV1Subject(kind="ServiceAccount", name="ccoperator",
                                           namespace=namespace)]))
    return service_account_token(namespace, "ccoperator", 600)


async def test_bearer_token_of_a_service_account(
        operator_token: str, token_kubeconfig: TokenKubeconfig,
        make_owner: Callable[[str], Owner]) -> None:
    owner = make_owner("app")
    configuration = kube_configuration(str(token_kubeconfig(operator_token, owner.namespace)))
    assert not configuration.cert_file
    async with kube_api(configuration) as api:
        assert await eventually(lambda: api.get_secret(
            owner.namespace, "app-credentials", owner.uid, SECRET_KEY)) is None
        await eventually(lambda: write_new(api, owner, "app-credentials"))
        current = await get(api, owner, "app-credentials")
        await api.write_secret(owner, "app-credentials", {SECRET_KEY: "v2"}, labels={},
                               annotations={}, existing=current)
        await eventually(lambda: api.patch_status(owner.namespace, "app", {"clientId": "c"}))
        await api.delete_secret(owner.namespace, "app-credentials", owner.uid)
        assert await api.get_secret(owner.namespace, "app-credentials", owner.uid,
                                    SECRET_KEY) is None


async def test_bad_token_is_401_and_the_error_holds_no_secret(
        service_account_token: ServiceAccountToken, token_kubeconfig: TokenKubeconfig,
        namespace: str) -> None:
    forged = service_account_token(namespace, "nobody", 600)[:-4] + "AAAA"
    configuration = kube_configuration(str(token_kubeconfig(forged, namespace)))
    owner = Owner(name="app", namespace=namespace, uid=str(uuid.uuid4()))
    value = f"do-not-leak-{uuid.uuid4().hex}"
    async with kube_api(configuration) as api:
        with pytest.raises(KubeApiError) as write:
            await write_new(api, owner, "app-credentials", value=value)
        with pytest.raises(KubeApiError) as read:
            await api.get_secret(namespace, "app-credentials", owner.uid, SECRET_KEY)
    for exc in (write.value, read.value):
        assert exc.status == 401
        assert exc.reason == "Unauthorized"
        for text in (str(exc), repr(exc)):
            assert value not in text
            assert forged not in text and forged[-40:] not in text
    assert str(write.value) == (
        f"POST /api/v1/namespaces/{namespace}/secrets: 401 Unauthorized")


async def test_the_token_is_read_again_for_every_request(
        service_account_token: ServiceAccountToken, token_kubeconfig: TokenKubeconfig,
        namespace: str) -> None:
    # In a Pod, the projected token file rotates; the official client's refresh hook re-reads
    # it, and KubeApi must ask the configuration for every request, not once.
    token = service_account_token(namespace, "nobody", 600)
    configuration = kube_configuration(str(token_kubeconfig(token[:-4] + "AAAA", namespace)))
    async with kube_api(configuration) as api:
        with pytest.raises(KubeApiError) as unauthenticated:
            await api.get_secret(namespace, "x", "uid", SECRET_KEY)
        assert unauthenticated.value.status == 401

        def rotate(c: Any) -> None:
            c.api_key["BearerToken"] = f"Bearer {token}"

        configuration.refresh_api_key_hook = rotate
        with pytest.raises(KubeApiError) as forbidden:  # authenticated, not authorized
            await api.get_secret(namespace, "x", "uid", SECRET_KEY)
        assert forbidden.value.status == 403


# ------------------------------------------------------------------------------- transport

@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connection_refused_is_an_error_without_status(kubeconfig: Path,
                                                             namespace: str) -> None:
    configuration = kube_configuration(str(kubeconfig))
    configuration.host = f"https://127.0.0.1:{_closed_port()}"
    async with kube_api(configuration) as api:
        with pytest.raises(KubeApiError) as refused:
            await api.get_secret(namespace, "x", "uid", SECRET_KEY)
    assert refused.value.status is None
    assert str(refused.value).startswith(f"GET /api/v1/namespaces/{namespace}/secrets/x: ")
    assert "Cannot connect" in refused.value.reason


async def test_a_server_that_never_answers_times_out(kubeconfig: Path, namespace: str,
                                                     silent_port: int) -> None:
    configuration = kube_configuration(str(kubeconfig))
    configuration.host = f"https://127.0.0.1:{silent_port}"
    limits = HttpLimits(read_timeout=1.0, connect_timeout=0.5)
    async with kube_api(configuration, limits) as api:
        started = time.monotonic()
        with pytest.raises(KubeApiError) as timed_out:
            await api.patch_status(namespace, "app", {"clientId": "x"})
    assert timed_out.value.status is None
    assert timed_out.value.reason == "timed out"
    assert time.monotonic() - started < 5
