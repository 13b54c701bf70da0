"""The admission policies on a real API server: install what deploy/ ships, know when they are
in effect (the API server loads policies, bindings and parameters from its own informers, a
moment after they are written), and ask it what it would answer (server-side dry-run).

The policies refuse for every namespace of the cluster, so tests install them for a module and
remove them afterwards (`installed_policies`), waiting each time until the change is in effect:
the tests of other modules store refused resources on purpose, to see the operator refuse them.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s

from tests.crd_fixtures import apply_object

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION, PLURAL = "identity.ccoperator.io", "v1alpha1", "clientcredentialclients"
POLICY_KINDS = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
MEMBER = "6b1d0b52-0000-4000-8000-000000000002"
UNGRANTED = "6b1d0b52-0000-4000-8000-0000000fffff"  # a role no tenant object of a test grants
DENIED = re.compile(r"ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request: "
                     r"(.*)$", re.S)


@dataclass(frozen=True)
class Verdict:
    """The API server's answer to a dry-run: admitted, or refused with the message (the
    policy's own message when a policy refused, with the policy's name)."""

    admitted: bool
    message: str | None = None
    policy: str | None = None

    def __str__(self) -> str:
        if self.admitted:
            return "admitted"
        by = f" (by {self.policy})" if self.policy else ""
        return f"refused{by}: {self.message}"


def verdict_of(exc: k8s.ApiException) -> Verdict:
    try:
        message = str(json.loads(exc.body or "{}").get("message", exc.body))
    except ValueError:
        message = str(exc.body)
    if exc.status not in (400, 403, 422):
        raise exc
    found = DENIED.search(message)
    if found:
        return Verdict(False, found.group(2), found.group(1))
    return Verdict(False, message)


def ccc_body(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ClientCredentialClient",
            "metadata": {"name": name}, "spec": spec}


def answer(call: Callable[[], object]) -> Verdict:
    """The verdict on a dry-run request: admitted if it returns, else what the server said."""
    try:
        call()
    except k8s.ApiException as exc:
        return verdict_of(exc)
    return Verdict(True)


def dry_run_create(custom: k8s.CustomObjectsApi, namespace: str, name: str,
                   spec: dict[str, Any]) -> Verdict:
    return answer(lambda: custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, ccc_body(name, spec), dry_run="All"))


def dry_run_patch(custom: k8s.CustomObjectsApi, namespace: str, name: str,
                  patch: dict[str, Any]) -> Verdict:
    return answer(lambda: custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, patch, dry_run="All"))


def dry_run_replace_spec(custom: k8s.CustomObjectsApi, namespace: str, name: str,
                         spec: dict[str, Any]) -> Verdict:
    """An update whose spec is exactly `spec` (as `kubectl apply` or a GitOps sync sends)."""
    body = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    body["spec"] = spec
    return answer(lambda: custom.replace_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, body, dry_run="All"))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        time.sleep(0.1)


def policy_docs(control_plane: Any, target: str = "deploy") -> list[dict[str, Any]]:
    """The admission policies and bindings as `kubectl kustomize <target>` renders them."""
    rendered = control_plane.kubectl("kustomize", str(REPO / target)).stdout
    return [d for d in yaml.safe_load_all(rendered) if d and d["kind"] in POLICY_KINDS]


class Probe:
    """A tenant object of each kind that refuses everything, to tell whether the policies
    are in effect: a ClusterIdentityTenant that selects no namespace, and an IdentityTenant
    in a namespace of its own that grants no role a probe asks for."""

    def __init__(self, control_plane: Any, custom: k8s.CustomObjectsApi,
                 core: k8s.CoreV1Api) -> None:
        self.control_plane, self.custom, self.core = control_plane, custom, core
        suffix = uuid.uuid4().hex[:6]
        self.namespace = f"ccoperator-vap-probe-{suffix}"
        self.cluster_tenant = f"ccoperator-vap-probe-{suffix}"

    def create(self) -> None:
        self.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(
            name=self.namespace)))
        apply_object(self.control_plane, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ClusterIdentityTenant",
            "metadata": {"name": self.cluster_tenant},
            "spec": {"tenantId": "probe", "allowedRoleIds": [MEMBER]}})
        apply_object(self.control_plane, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "IdentityTenant",
            "metadata": {"name": "probe", "namespace": self.namespace},
            "spec": {"tenantId": "probe", "allowedRoleIds": [MEMBER],
                     "credentialsSecretRef": {"name": "none"}}})

    def delete(self) -> None:
        self.control_plane.kubectl("delete", "clusteridentitytenant", self.cluster_tenant,
                                   "--wait=false", check=False)
        self.control_plane.kubectl("delete", "namespace", self.namespace, "--wait=false",
                                   check=False)

    def refused_by(self) -> tuple[str | None, str | None]:
        """The policies refusing a probe of each kind right now (None: admitted)."""
        cluster = dry_run_create(self.custom, self.namespace, "probe", {
            "tenantRef": {"name": self.cluster_tenant}, "roleIds": [MEMBER]})
        namespaced = dry_run_create(self.custom, self.namespace, "probe", {
            "tenantRef": {"kind": "IdentityTenant", "name": "probe"}, "roleIds": [UNGRANTED]})
        return cluster.policy, namespaced.policy

    def wait_in_effect(self, timeout: float = 60) -> None:
        wait_until(lambda: None not in self.refused_by(), "the admission policies refuse",
                   timeout)

    def wait_gone(self, timeout: float = 60) -> None:
        wait_until(lambda: self.refused_by() == (None, None),
                   "no admission policy refuses any more", timeout)


@contextmanager
def installed_policies(control_plane: Any, api: k8s.ApiClient,
                       target: str = "deploy") -> Iterator[list[dict[str, Any]]]:
    """deploy/'s admission policies, in effect inside the block and gone after it."""
    custom, core = k8s.CustomObjectsApi(api), k8s.CoreV1Api(api)
    docs = policy_docs(control_plane, target)
    probe = Probe(control_plane, custom, core)
    probe.create()
    try:
        control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
        try:
            probe.wait_in_effect()
            yield docs
        finally:
            for doc in docs:
                control_plane.kubectl("delete", doc["kind"], doc["metadata"]["name"],
                                      "--ignore-not-found", check=False)
            probe.wait_gone()
    finally:
        probe.delete()
