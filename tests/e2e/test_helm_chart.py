"""charts/ccoperator: linted by the real helm, rendered, validated by the real API server, equal
to deploy/ for equivalent values, and installed with `helm install` so that the operator runs
through a lifecycle under the chart's ServiceAccount, RBAC and rendered settings.

deploy/ (kustomize) and the chart describe the same objects. The comparison ignores only what
one of them adds by design (CHART_ONLY_LABELS, CHART_ONLY_ANNOTATIONS; deploy/'s Namespace and
its ConfigMap name's hash suffix); everything else must be equal, so a change to one that is
not made to the other fails here.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import difflib
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.admission_support import POLICY_KINDS, Probe, wait_until
from tests.crd_fixtures import CRD_NAMES

from .installed import short_lifecycle
from .support import REPO, Kube

CHART = REPO / "charts" / "ccoperator"
SYSTEM_NAMESPACE = "ccoperator-system"
CRD_NAME = "clientcredentialclients.identity.ccoperator.io"

# Labels Helm charts carry by convention and deploy/ has no use for: the release (instance),
# the chart, its version and the manager. Removed from metadata and from selectors alike.
CHART_ONLY_LABELS = frozenset({"helm.sh/chart", "app.kubernetes.io/instance",
                               "app.kubernetes.io/managed-by", "app.kubernetes.io/version"})
# checksum/config rolls the pod on a settings change (kustomize renames the ConfigMap instead);
# resource-policy keeps the CRDs on `helm uninstall`.
CHART_ONLY_ANNOTATIONS = frozenset({"checksum/config", "helm.sh/resource-policy"})

# The values that make the chart render what `kubectl kustomize deploy/` renders: the
# chart-only extra (metrics Service) off. Neither sets an identity URL (it is optional: tenant
# objects may each name theirs); both run two replicas with leader election, a
# PodDisruptionBudget and the soft anti-affinity preset.
DEPLOY_VALUES: dict[str, Any] = {
    "metrics": {"service": {"enabled": False}},
}
# What deploy/overlays/example/ sets on top of deploy/ (the README's install steps use a copy).
EXAMPLE_OVERLAY_VALUES: dict[str, Any] = {
    "identity": {"url": "https://identity.example.com"},
    "image": {"repository": "registry.example.com/ccoperator"},
    "clusterName": "my-cluster",
}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


class Helm:
    """The built helm, with its own config/cache/data folders and the admin kubeconfig."""

    def __init__(self, binary: Path, home: Path, kubeconfig: Path) -> None:
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
        self.env.update({f"HELM_{kind}_HOME": str(home / kind.lower())
                         for kind in ("CACHE", "CONFIG", "DATA")})
        self.env.pop("KUBECONFIG", None)
        self._home = home

    def run(self, *args: str, values: dict[str, Any] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binary), *args]
        if values is not None:
            path = self._home / f"values-{uuid.uuid4().hex[:8]}.yaml"
            path.write_text(yaml.safe_dump(values))
            argv += ["--values", str(path)]
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                                timeout=120)
        if check:
            assert result.returncode == 0, f"{argv}\n{result.stdout}\n{result.stderr}"
        return result

    def template(self, values: dict[str, Any], *, release: str = "ccoperator",
                 namespace: str = SYSTEM_NAMESPACE) -> str:
        return self.run("template", release, str(CHART), "--namespace", namespace,
                        values=values).stdout


@pytest.fixture(scope="module")
def helm_cli(helm: Path, kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(helm, tmp_path_factory.mktemp("helm"), kubeconfig)


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _strip(node: Any) -> Any:
    """A copy without the chart-only labels and annotations, wherever they are."""
    if isinstance(node, list):
        return [_strip(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("labels", "matchLabels", "annotations") and isinstance(value, dict):
            drop = CHART_ONLY_ANNOTATIONS if key == "annotations" else CHART_ONLY_LABELS
            value = {k: v for k, v in value.items() if k not in drop}
            if not value:
                continue
        out[key] = _strip(value)
    return out


def _by_key(docs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): _strip(d)
            for d in docs}


def _kustomize(control_plane: Any, target: str) -> list[dict[str, Any]]:
    text = control_plane.kubectl("kustomize", str(REPO / target)).stdout
    # configMapGenerator appends a hash of the content to the name; the chart rolls the pod
    # with checksum/config instead.
    text = re.sub(r"\bccoperator-config-[a-z0-9]{10}\b", "ccoperator-config", text)
    # The chart never owns the namespace (helm install --create-namespace, or the platform's).
    return [d for d in _docs(text) if d["kind"] != "Namespace"]


@pytest.mark.parametrize(("target", "extra"), [
    ("deploy", {}),
    ("deploy/overlays/namespaced", {"watchNamespaces": ["team-a"]}),
    ("deploy/overlays/example", EXAMPLE_OVERLAY_VALUES),
])
def test_chart_renders_what_deploy_renders(control_plane: Any, helm_cli: Helm, target: str,
                                           extra: dict[str, Any]) -> None:
    want = _by_key(_kustomize(control_plane, target))
    have = _by_key(_docs(helm_cli.template(_merge(DEPLOY_VALUES, extra))))
    assert sorted(have) == sorted(want)
    for key in want:
        if have[key] != want[key]:
            diff = difflib.unified_diff(
                yaml.safe_dump(want[key], sort_keys=True).splitlines(),
                yaml.safe_dump(have[key], sort_keys=True).splitlines(),
                f"kustomize {target}", "helm template", lineterm="")
            pytest.fail(f"{key} differs:\n" + "\n".join(diff))


def test_helm_lint(helm_cli: Helm) -> None:
    result = helm_cli.run("lint", "--strict", str(CHART), values=DEPLOY_VALUES)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(("values", "message"), [
    ({"identity": {"url": "https://x"}, "leaderElection": {"enabled": False}},
     "needs leaderElection.enabled"),
])
def test_chart_refuses_unsafe_values(helm_cli: Helm, values: dict[str, Any],
                                     message: str) -> None:
    result = helm_cli.run("template", "x", str(CHART), values=values, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def _config(docs: list[dict[str, Any]]) -> dict[str, str]:
    return next(d for d in docs if d["kind"] == "ConfigMap")["data"]  # type: ignore[no-any-return]


def test_chart_renders_without_identity_url(helm_cli: Helm) -> None:
    """identity.url is optional, like CCOPERATOR_IDENTITY_URL: tenant objects may each carry
    spec.identityUrl. Unset, the chart renders, lints clean and sets no URL at all (an empty
    one would not mean "none" to every reader); set, it is rendered as given."""
    assert "1 chart(s) linted, 0 chart(s) failed" in helm_cli.run(
        "lint", "--strict", str(CHART)).stdout
    unset = _config(_docs(helm_cli.template({})))
    assert "CCOPERATOR_IDENTITY_URL" not in unset and unset["CCOPERATOR_RESYNC_PERIOD"] == "10m"
    # NOTES come only from install; the CRDs may be installed already (by other tests).
    notes = helm_cli.run("install", "x", str(CHART), "--dry-run=client", "--set",
                         "crds.install=false", "--kubeconfig", str(helm_cli.kubeconfig)).stdout
    assert "every tenant object must set spec.identityUrl" in notes, notes
    given = _config(_docs(helm_cli.template({"identity": {"url": "https://id.example.com"}})))
    assert given["CCOPERATOR_IDENTITY_URL"] == "https://id.example.com"


VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"identity": {"url": "https://identity.example.com"}},
    "namespaced": {"identity": {"url": "https://identity.example.com"},
                   "watchNamespaces": ["team-a", "team-b"]},
    "single-replica": {"identity": {"url": "https://identity.example.com"},
                       "replicaCount": 1, "leaderElection": {"enabled": False},
                       "podDisruptionBudget": {"enabled": False}},
    "leader-election": {
        "identity": {"url": "https://identity.example.com"},
        "replicaCount": 2, "leaderElection": {"enabled": True},
        "podDisruptionBudget": {"enabled": True}, "podAntiAffinity": "hard",
        "networkPolicy": {"enabled": True, "metricsFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
        "image": {"digest": "sha256:" + "0" * 64},
    },
}


@pytest.fixture(scope="module")
def namespaces(control_plane: Any) -> None:
    for name in (SYSTEM_NAMESPACE, "team-a", "team-b"):
        result = control_plane.kubectl("create", "namespace", name, check=False)
        assert result.returncode == 0 or "AlreadyExists" in result.stderr, result.stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_chart_validates_server_side(control_plane: Any, helm_cli: Helm, namespaces: None,
                                     variant: str) -> None:
    rendered = helm_cli.template(VARIANTS[variant])
    docs = _docs(rendered)
    result = control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=rendered)
    assert result.stdout.count("(server dry run)") == len(docs), result.stdout
    kinds = {d["kind"] for d in docs}
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    if variant == "single-replica":
        assert "CCOPERATOR_LEADER_ELECTION" not in env and "PodDisruptionBudget" not in kinds
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
    else:  # the defaults: two replicas, one leader
        assert "PodDisruptionBudget" in kinds and deployment["spec"]["replicas"] == 2
        assert env["CCOPERATOR_LEADER_ELECTION"] == "true"
        assert (env["CCOPERATOR_LEASE_DURATION"], env["CCOPERATOR_RENEW_DEADLINE"],
                env["CCOPERATOR_RETRY_PERIOD"]) == ("15s", "10s", "2s")
        assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
        leases = next(d for d in docs if d["kind"] == "Role"
                      and d["metadata"]["name"].endswith("-leader-election"))
        assert leases["metadata"]["namespace"] == SYSTEM_NAMESPACE
    if variant == "leader-election":
        assert "NetworkPolicy" in kinds
        assert container["image"] == "ccoperator@sha256:" + "0" * 64
    cluster_roles = {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"}
    if variant == "namespaced":
        # No cluster-wide grant on clients or Secrets: only the cluster-scoped reads (tenant
        # objects, namespaces) and the users' aggregated roles.
        assert cluster_roles == {"ccoperator-cluster-scoped", "ccoperator-edit",
                                 "ccoperator-view"}
        roles = {d["metadata"]["namespace"] for d in docs if d["kind"] == "RoleBinding"}
        assert roles == {"team-a", "team-b", SYSTEM_NAMESPACE}
    else:
        assert cluster_roles == {"ccoperator", "ccoperator-edit", "ccoperator-view"}
    crd = next(d for d in docs if d["kind"] == "CustomResourceDefinition")
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_chart_admission_policies_follow_the_release(helm_cli: Helm) -> None:
    """Named after the release (two installations keep both sets), bound to their own
    policies, with the values' validationActions; none at all when turned off."""
    docs = _docs(helm_cli.template({"admissionPolicies": {"validationActions": ["Warn"]}},
                                   release="blue"))
    policies = {d["kind"]: d for d in docs if d["kind"] in POLICY_KINDS
                and "-clusteridentitytenant" in d["metadata"]["name"]}
    assert {d["metadata"]["name"] for d in policies.values()} == {
        "blue-ccoperator-clusteridentitytenant"}
    binding = policies["ValidatingAdmissionPolicyBinding"]["spec"]
    assert binding["policyName"] == "blue-ccoperator-clusteridentitytenant"
    assert binding["validationActions"] == ["Warn"]
    assert sum(d["kind"] in POLICY_KINDS for d in docs) == 4
    off = _docs(helm_cli.template({"admissionPolicies": {"enabled": False}}))
    assert not [d for d in off if d["kind"] in POLICY_KINDS]


def test_two_releases_both_refuse_at_admission(control_plane: Any, helm_cli: Helm, crd: str,
                                               k8s_api: Any) -> None:
    """The chart installed twice in one cluster: both sets of policies exist, and each one
    refuses on its own (the other release's turned off, then the other way round)."""
    from kubernetes import client as k8s

    suffix = uuid.uuid4().hex[:5]
    releases = [f"one-{suffix}", f"two-{suffix}"]
    kubeconfig = ("--kubeconfig", str(helm_cli.kubeconfig))
    probe = Probe(control_plane, k8s.CustomObjectsApi(k8s_api), k8s.CoreV1Api(k8s_api))
    probe.create()

    def names(release: str) -> tuple[str, str]:
        return (f"{release}-ccoperator-clusteridentitytenant",
                f"{release}-ccoperator-identitytenant")

    def policies(release: str, enabled: bool, *verb: str) -> None:
        helm_cli.run(*verb, release, str(CHART), "--namespace", f"cco-{release}", *kubeconfig,
                     values={"crds": {"install": False},
                             "admissionPolicies": {"enabled": enabled}})

    try:
        for release in releases:
            policies(release, True, "install", "--create-namespace")
        listed = set(control_plane.kubectl(
            "get", "validatingadmissionpolicies,validatingadmissionpolicybindings",
            "-o", "name").stdout.split())
        for release in releases:
            for name in names(release):
                for kind in ("validatingadmissionpolicy", "validatingadmissionpolicybinding"):
                    assert f"{kind}.admissionregistration.k8s.io/{name}" in listed
        wait_until(lambda: None not in probe.refused_by(), "both releases' policies refuse")
        for off, on in (releases, releases[::-1]):
            policies(off, False, "upgrade")
            wait_until(lambda on=on: probe.refused_by() == names(on),
                       f"{on}'s policies refuse alone")
            policies(off, True, "upgrade")
    finally:
        for release in releases:
            helm_cli.run("uninstall", release, "--namespace", f"cco-{release}", *kubeconfig,
                         check=False)
            control_plane.kubectl("delete", "namespace", f"cco-{release}", "--wait=false",
                                  check=False)
        probe.wait_gone()
        probe.delete()


def test_chart_service_monitor_and_no_crds(helm_cli: Helm) -> None:
    docs = _docs(helm_cli.template({"identity": {"url": "https://x"}, "crds": {"install": False},
                                    "metrics": {"serviceMonitor": {"enabled": True}}}))
    kinds = [d["kind"] for d in docs]
    assert "CustomResourceDefinition" not in kinds
    monitor = next(d for d in docs if d["kind"] == "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    service = next(d for d in docs if d["kind"] == "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


# --------------------------------------------------------------------------------------------
# helm install, then the operator under the chart's ServiceAccount and rendered settings
# --------------------------------------------------------------------------------------------

def _adopt_crd(control_plane: Any, release: str, namespace: str) -> None:
    """Let the release take over a CRD applied earlier with kubectl (as a platform team moving
    from kubectl apply to the chart would): Helm adopts objects carrying its ownership marks."""
    for name in CRD_NAMES:
        if control_plane.kubectl("get", "crd", name, check=False).returncode != 0:
            continue
        control_plane.kubectl("label", "--overwrite", "crd", name,
                              "app.kubernetes.io/managed-by=Helm")
        control_plane.kubectl("annotate", "--overwrite", "crd", name,
                              f"meta.helm.sh/release-name={release}",
                              f"meta.helm.sh/release-namespace={namespace}")


def _pod_env(control_plane: Any, release_ns: str, deployment: str,
             files: Path) -> dict[str, str]:
    """The operator container's environment as the kubelet would build it from the installed
    objects: envFrom the ConfigMap, env (the downward API resolved), and the credentials
    Secret's items projected as files under `files`."""
    import json

    get = lambda *a: json.loads(control_plane.kubectl("get", "-n", release_ns, *a,  # noqa: E731
                                                      "-o", "json").stdout)
    pod = get("deployment", deployment)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(get("configmap", source["configMapRef"]["name"])["data"])
    mount = next(m["mountPath"] for m in container["volumeMounts"]
                 if m["name"] == "identity-credentials")
    volume = next(v for v in pod["volumes"] if v["name"] == "identity-credentials")["secret"]
    secret = get("secret", volume["secretName"])["data"]
    files.mkdir(parents=True, exist_ok=True)
    for item in volume["items"]:
        (files / item["path"]).write_bytes(base64.b64decode(secret[item["key"]]))
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"].replace(mount, str(files))
        elif entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace":
            env[entry["name"]] = release_ns
        else:  # pragma: no cover - the chart renders nothing else
            raise AssertionError(entry)
    return env


@pytest.fixture
def release_namespace(control_plane: Any) -> Iterator[str]:
    name = f"ccoperator-helm-{uuid.uuid4().hex[:6]}"
    yield name
    with contextlib.suppress(Exception):
        control_plane.kubectl("delete", "namespace", name, "--wait=false")


@pytest.mark.parametrize("scope", ["cluster-wide", "namespaced"])
def test_helm_install_then_operator_lifecycle_under_chart_rbac(
        control_plane: Any, helm_cli: Helm, scope: str, release_namespace: str,
        namespace: str, kube: Kube, sim: Any, sim_api: Any, service_account_token: Any,
        token_kubeconfig: Any, operator_factory: Any, tmp_path: Path) -> None:
    release = f"cco-{scope[:7]}"
    values: dict[str, Any] = {
        "identity": {"url": sim.base_url},
        "config": {"resyncPeriod": "4s", "rotationGracePeriod": "2s", "logLevel": "DEBUG",
                   "logFormat": "text"},
    }
    if scope == "namespaced":
        values["watchNamespaces"] = [namespace]
    else:  # the ClusterRole, with the watch narrowed so other tests' namespaces stay out
        values["extraEnv"] = [{"name": "CCOPERATOR_NAMESPACES", "value": namespace}]
    _adopt_crd(control_plane, release, release_namespace)
    helm_cli.run("install", release, str(CHART), "--namespace", release_namespace,
                 "--create-namespace", "--kubeconfig", str(helm_cli.kubeconfig),
                 values=values)
    try:
        control_plane.kubectl("create", "secret", "generic", "ccoperator-identity",
                              "-n", release_namespace,
                              f"--from-literal=clientId={sim.admin_client_id}",
                              f"--from-literal=clientSecret={sim.admin_client_secret}")
        # No kubelet runs here: the Deployment never gets a pod. Its container runs as a local
        # process instead, with the pod's environment and its ServiceAccount's token.
        fullname = f"{release}-ccoperator"
        env = _pod_env(control_plane, release_namespace, fullname, tmp_path / "identity")
        assert env["CCOPERATOR_NAMESPACE"] == release_namespace
        assert env["CCOPERATOR_IDENTITY_URL"] == sim.base_url
        kubeconfig = token_kubeconfig(service_account_token(release_namespace, fullname),
                                      release_namespace)
        operator = operator_factory(kubeconfig=kubeconfig)
        for key in ("CCOPERATOR_CLIENT_ID", "CCOPERATOR_CLIENT_SECRET", "CCOPERATOR_NAMESPACES"):
            operator.env.pop(key)
        operator.start(**env)

        short_lifecycle(kube, sim, sim_api, namespace, "under the chart's RBAC")
        logs = operator.logs()
        assert " 403 " not in logs and "Forbidden" not in logs and "forbidden" not in logs, \
            operator.tail()
    finally:
        helm_cli.run("uninstall", release, "--namespace", release_namespace,
                     "--kubeconfig", str(helm_cli.kubeconfig), check=False)
    # crds.keep: the CRD (and every resource of it) outlives the release.
    assert control_plane.kubectl("get", "crd", CRD_NAME, check=False).returncode == 0
