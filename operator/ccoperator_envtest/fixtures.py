"""pytest plugin: one real control plane per session, fresh namespaces, ServiceAccount tokens.

Fixtures
    control_plane          session  Cluster: a ControlPlane (binaries built if missing), or an
                                    ExternalCluster over $CCOPERATOR_TEST_KUBECONFIG
    kubeconfig             session  Path of the admin kubeconfig
    k8s_api                session  admin kubernetes.client.ApiClient
    namespace              function fresh, uniquely named namespace; deleted afterwards
    service_account_token  function (namespace, name, duration=3600) -> token (TokenRequest);
                                    creates the ServiceAccount if missing
    token_kubeconfig       function (token, namespace="default") -> Path of a bearer-token
                                    kubeconfig (to run the operator under its own RBAC)
    helm                   session  Path of the helm binary (gotools; built if missing)

Every test using `control_plane` (directly or through another fixture) is marked
`controlplane`, so `-m "not controlplane"` deselects them all.

Env: CCOPERATOR_TEST_KUBECONFIG (use that cluster, build and start nothing);
CCOPERATOR_CONTROLPLANE_LOGS=<dir> (copy component logs there when the session ends).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import build, gotools
from .cluster import Cluster, ControlPlane, ExternalCluster, write_token_kubeconfig

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ENV_KUBECONFIG = "CCOPERATOR_TEST_KUBECONFIG"
ENV_KEEP_LOGS = "CCOPERATOR_CONTROLPLANE_LOGS"
NAMESPACE_LABEL = "ccoperator.test/created-by"

ServiceAccountToken = Callable[..., str]
TokenKubeconfig = Callable[..., Path]

# The session's ControlPlane, for attaching its logs to failure reports.
_session_plane: ControlPlane | None = None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "control_plane" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.controlplane)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    # The temp dir (and its logs) is gone once the session ends: put the interesting part of
    # the component logs into the report of a failing test while they still exist.
    if (report.failed and _session_plane is not None
            and "control_plane" in getattr(item, "fixturenames", ())):
        for name, path in _session_plane.log_paths.items():
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-30:]
                report.sections.append((f"{name} log (last 30 lines, {path})", "\n".join(tail)))
    return report


def _build_visibly(request: pytest.FixtureRequest, what: str, build_it: Callable[[], Any]) -> Any:
    # A cold build takes minutes: show its progress instead of capturing it.
    capman = request.config.pluginmanager.getplugin("capturemanager")
    quiet = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    with quiet:
        try:
            return build_it()
        except SystemExit as exc:  # the builders report failures as SystemExit
            pytest.fail(f"cannot build {what}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def helm(request: pytest.FixtureRequest) -> Path:
    path: Path = _build_visibly(request, "helm", lambda: gotools.ensure("helm"))
    return path


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    global _session_plane
    external = os.environ.get(ENV_KUBECONFIG)
    if external:
        yield ExternalCluster(external)
        return
    if build.missing():
        _build_visibly(request, "the control plane binaries", build.ensure_built)
    keep = os.environ.get(ENV_KEEP_LOGS)
    plane = ControlPlane(with_controller_manager=True, keep_logs=Path(keep) if keep else None)
    plane.start()
    _session_plane = plane
    try:
        yield plane
    finally:
        _session_plane = None
        plane.stop()


@pytest.fixture(scope="session")
def kubeconfig(control_plane: Cluster) -> Path:
    return control_plane.kubeconfig


@pytest.fixture(scope="session")
def k8s_api(control_plane: Cluster) -> Iterator[ApiClient]:
    with control_plane.api_client() as api:
        yield api


def _namespace_name(test_name: str) -> str:
    # DNS-1123 label (<= 63 chars): readable prefix from the test name + random suffix.
    base = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-")
    return f"t-{base}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(k8s_api: ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)
    name = _namespace_name(request.node.name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={NAMESPACE_LABEL: "pytest"})))
    yield name
    # Not waited for: the namespace controller empties it in the background, and the next
    # test gets its own name anyway.
    with contextlib.suppress(client.ApiException):
        core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def service_account_token(k8s_api: ApiClient) -> ServiceAccountToken:
    from kubernetes import client

    core = client.CoreV1Api(k8s_api)

    def issue(namespace: str, name: str, duration: int | dt.timedelta = 3600,
              audiences: list[str] | None = None) -> str:
        """Token for ServiceAccount namespace/name (created if missing), valid `duration`
        (seconds; the apiserver's minimum is 600)."""
        seconds = int(duration.total_seconds()) if isinstance(duration, dt.timedelta) \
            else int(duration)
        try:
            core.create_namespaced_service_account(namespace, client.V1ServiceAccount(
                metadata=client.V1ObjectMeta(name=name)))
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        # Empty audiences = the apiserver's own audience, i.e. a token it accepts for API calls.
        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(
            audiences=audiences or [], expiration_seconds=seconds))
        response = core.create_namespaced_service_account_token(name, namespace, request)
        assert response.status is not None and response.status.token
        return response.status.token

    return issue


@pytest.fixture(scope="session")
def _kubeconfig_dir() -> Iterator[Path]:
    # Not tmp_path: that lives under /tmp/pytest-of-<user> and is kept after the run.
    with tempfile.TemporaryDirectory(prefix="ccoperator-kubeconfigs-") as folder:
        yield Path(folder)


@pytest.fixture
def token_kubeconfig(control_plane: Cluster, _kubeconfig_dir: Path) -> TokenKubeconfig:
    def write(token: str, namespace: str = "default") -> Path:
        path = _kubeconfig_dir / f"token-{uuid.uuid4().hex[:8]}.kubeconfig"
        return write_token_kubeconfig(control_plane, token, path, namespace=namespace)

    return write
