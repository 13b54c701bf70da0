"""deploy/ is proven: its RBAC is enough for a full lifecycle, and every manifest validates
against the real API server (`kubectl apply --dry-run=server`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .support import REPO, Kube, token_status, wait_for
from .test_lifecycle import CONTRIBUTOR, TENANT, spec

SYSTEM_NAMESPACE = "ccoperator-system"


@pytest.fixture(scope="module")
def system_namespace(control_plane: Any) -> Iterator[str]:
    result = control_plane.kubectl("create", "namespace", SYSTEM_NAMESPACE, check=False)
    assert result.returncode == 0 or "AlreadyExists" in result.stderr, result.stderr
    yield SYSTEM_NAMESPACE


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_operator_runs_under_deploy_rbac_through_full_lifecycle(
        control_plane: Any, crd: str, system_namespace: str, namespace: str, kube: Kube,
        sim: Any, sim_api: Any, service_account_token: Any, token_kubeconfig: Any,
        operator_factory: Any) -> None:
    base = REPO / "deploy" / "base"
    control_plane.kubectl("apply", "-f", str(base / "clusterrole.yaml"),
                          "-f", str(base / "clusterrolebinding.yaml"))
    token = service_account_token(system_namespace, "ccoperator")
    kubeconfig = token_kubeconfig(token, system_namespace)
    # The token really is limited: the operator's account cannot read ConfigMaps.
    denied = control_plane.kubectl("get", "configmaps", "-n", namespace, check=False,
                                   kubeconfig=kubeconfig)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()

    operator = operator_factory(kubeconfig=kubeconfig, CCOPERATOR_RESYNC_PERIOD="4s",
                                CCOPERATOR_ROTATION_GRACE_PERIOD="2s").start()
    kube.create_ccc(namespace, "app", spec())
    obj = kube.wait_ready(namespace, "app")
    client_id = obj["status"]["clientId"]
    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None
    assert token_status(sim.token_url, client_id, data["clientSecret"]) == 200

    kube.patch_ccc(namespace, "app", {"spec": {"roleIds": [CONTRIBUTOR]}})
    wait_for(lambda: sim_api.get_client(TENANT, client_id)["RoleIds"] == [CONTRIBUTOR],
             what="update under RBAC")
    kube.patch_ccc(namespace, "app", {"metadata": {"annotations": {
        "identity.ccoperator.io/rotate": "rbac"}}})
    wait_for(lambda: (d := kube.secret_data(namespace, "app-credentials")) and
             d["clientSecret"] != data["clientSecret"], what="rotation under RBAC")
    kube.core.delete_namespaced_secret("app-credentials", namespace)
    wait_for(lambda: kube.secret(namespace, "app-credentials"), what="Secret restored")
    kube.wait_event(namespace, "Rotated")  # events: create allowed

    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    assert sim_api.get_client(TENANT, client_id) is None
    logs = operator.logs()
    assert " 403 " not in logs and "Forbidden" not in logs, operator.tail()


def test_cluster_role_has_no_wildcards() -> None:
    for path in [REPO / "deploy" / "base" / "clusterrole.yaml",
                 REPO / "deploy" / "overlays" / "namespaced" / "role.yaml"]:
        for rule in _docs(path)[0]["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], (path, rule)


@pytest.mark.parametrize("target", ["deploy", "deploy/overlays/namespaced",
                                    "deploy/overlays/example"])
def test_kustomizations_validate_server_side(control_plane: Any, crd: str,
                                             system_namespace: str, target: str) -> None:
    with contextlib.suppress(Exception):
        control_plane.kubectl("create", "namespace", "team-a")
    result = control_plane.kubectl("apply", "--dry-run=server", "-k", str(REPO / target))
    out = result.stdout
    for kind in ("customresourcedefinition", "serviceaccount", "deployment", "configmap"):
        assert kind in out, out
    assert "(server dry run)" in out


def test_example_overlay_sets_the_url_and_the_image(control_plane: Any) -> None:
    """The README's install path: deploy/ itself sets no identity URL (it is optional); the
    example overlay adds one and the image, and keeps the Namespace that the Secret goes in."""
    def render(target: str) -> list[dict[str, Any]]:
        out = control_plane.kubectl("kustomize", str(REPO / target)).stdout
        return [d for d in yaml.safe_load_all(out) if d]

    def parts(docs: list[dict[str, Any]]) -> tuple[dict[str, str], str]:
        config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
        deployment = next(d for d in docs if d["kind"] == "Deployment")
        return config, deployment["spec"]["template"]["spec"]["containers"][0]["image"]

    base, overlay = render("deploy"), render("deploy/overlays/example")
    config, image = parts(base)
    assert "CCOPERATOR_IDENTITY_URL" not in config and image == "ccoperator:0.1.0"
    config, image = parts(overlay)
    assert config["CCOPERATOR_IDENTITY_URL"] == "https://identity.example.com"
    assert config["CCOPERATOR_RESYNC_PERIOD"] == "10m"  # merged into the base's settings
    assert image == "registry.example.com/ccoperator:0.1.0"
    assert {(d["kind"], d["metadata"]["name"]) for d in overlay} >= {
        ("Namespace", SYSTEM_NAMESPACE), ("CustomResourceDefinition",
                                          "clientcredentialclients.identity.ccoperator.io")}


def test_crd_and_examples_validate_server_side(control_plane: Any, crd: str,
                                               namespace: str) -> None:
    control_plane.kubectl("apply", "--dry-run=server", "-k", str(REPO / "crds"))
    result = control_plane.kubectl("apply", "--dry-run=server", "-n", namespace,
                                   "-f", str(REPO / "examples"))
    assert result.stdout.count("(server dry run)") == len(list((REPO / "examples").glob("*.yaml")))
