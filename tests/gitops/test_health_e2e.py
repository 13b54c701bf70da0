"""Argo CD's health check and kstatus judge objects the real operator wrote: driven to Ready,
Creating, IdentityUnavailable, a stale generation, SecretConflict and ClientIdTaken against
the real control plane, operator and simulator, then read with `kubectl get -o json`."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client as k8s

from tests.e2e.support import Kube, OperatorProcess, wait_for
from tests.e2e.test_lifecycle import MEMBER, TENANT, spec

from .objects import health_scripts
from .tools import argocd_health, kstatus

SCRIPT = health_scripts()["ClientCredentialClient"]


def kubectl_json(control_plane: Any, namespace: str, name: str) -> dict[str, Any]:
    out = control_plane.kubectl("get", "clientcredentialclients.identity.ccoperator.io", name,
                                "-n", namespace, "-o", "json").stdout
    obj: dict[str, Any] = json.loads(out)
    return obj


def judged(control_plane: Any, namespace: str, name: str) -> tuple[dict[str, Any], str, str]:
    obj = kubectl_json(control_plane, namespace, name)
    return obj, argocd_health(SCRIPT, obj)["status"], kstatus(obj)["status"]


def types(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in obj.get("status", {}).get("conditions", [])}


def reason(obj: dict[str, Any]) -> str | None:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == "Ready":
            return str(c["reason"])
    return None


def test_ready_is_healthy_and_current(control_plane: Any, operator: OperatorProcess,
                                      kube: Kube, namespace: str) -> None:
    kube.create_ccc(namespace, "app", spec())
    kube.wait_ready(namespace, "app")
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert (argocd, flux) == ("Healthy", "Current")
    assert types(obj) == {"Ready": "True"}  # no Stalled, no other condition


def test_new_object_without_status(control_plane: Any, operator_factory: Any, kube: Kube,
                                   namespace: str) -> None:
    """Before the operator's first status write. The CRD defaults status.observedGeneration to
    0, so both tools wait: without it kstatus would call an object with neither status nor
    conditions Current (its rule for unknown kinds) for as long as the operator is down."""
    kube.create_ccc(namespace, "app", spec())  # no operator running
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert obj["status"] == {"observedGeneration": 0}
    assert argocd == "Progressing"
    assert flux == "InProgress"


def test_creating_is_progressing_and_in_progress(control_plane: Any, operator: OperatorProcess,
                                                 kube: Kube, namespace: str,
                                                 sim: Any) -> None:
    # A caller-chosen id records its intent (Creating) before the POST; a uid-derived one
    # writes nothing until Ready and reads as not observed yet (the CRDs' default status).
    sim.admin.add_fault(route="clients.create", latency=2.5, times=2)  # slow creates
    kube.create_ccc(namespace, "app", spec(clientId="chosen-id"))
    kube.wait_reason(namespace, "app", "Creating", timeout=30)
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert reason(obj) == "Creating", obj["status"]  # still inside the slow POST
    assert (argocd, flux) == ("Progressing", "InProgress")
    assert "Stalled" not in types(obj)
    kube.create_ccc(namespace, "derived", spec())
    obj, argocd, flux = judged(control_plane, namespace, "derived")
    assert obj["status"] == {"observedGeneration": 0}, obj["status"]
    assert (argocd, flux) == ("Progressing", "InProgress")
    kube.wait_ready(namespace, "app")
    kube.wait_ready(namespace, "derived")


def test_identity_unavailable_is_progressing_and_in_progress(
        control_plane: Any, operator: OperatorProcess, kube: Kube, namespace: str,
        sim: Any) -> None:
    sim.admin.add_fault(route="clients.create", status=503)
    kube.create_ccc(namespace, "app", spec())
    kube.wait_reason(namespace, "app", "IdentityUnavailable", timeout=60)
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert (argocd, flux) == ("Progressing", "InProgress")
    assert "Stalled" not in types(obj)
    sim.admin.clear_faults()
    kube.wait_ready(namespace, "app", timeout=90)
    assert judged(control_plane, namespace, "app")[1:] == ("Healthy", "Current")


def test_spec_change_not_yet_seen_is_progressing(control_plane: Any, operator: OperatorProcess,
                                                 kube: Kube, namespace: str) -> None:
    kube.create_ccc(namespace, "app", spec())
    kube.wait_ready(namespace, "app")
    operator.stop()
    kube.patch_ccc(namespace, "app", {"spec": {"name": "renamed"}})
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert (obj["metadata"]["generation"], obj["status"]["observedGeneration"]) == (2, 1)
    assert (argocd, flux) == ("Progressing", "InProgress")
    operator.start()
    wait_for(lambda: (kube.get_ccc(namespace, "app") or {}).get("status", {})
             .get("observedGeneration") == 2, what="observedGeneration 2")
    assert judged(control_plane, namespace, "app")[1:] == ("Healthy", "Current")


def test_secret_conflict_is_degraded_and_failed_until_resolved(
        control_plane: Any, operator: OperatorProcess, kube: Kube, namespace: str) -> None:
    kube.core.create_namespaced_secret(namespace, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="app-credentials"), string_data={"mine": "keep"}))
    kube.create_ccc(namespace, "app", spec())
    kube.wait_reason(namespace, "app", "SecretConflict")
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert (argocd, flux) == ("Degraded", "Failed")
    stalled = next(c for c in obj["status"]["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "SecretConflict"
    assert stalled["observedGeneration"] == obj["metadata"]["generation"]
    assert "SecretConflict" in argocd_health(SCRIPT, obj)["message"]
    # Freed, the operator proceeds at the next resync and Stalled goes away.
    kube.core.delete_namespaced_secret("app-credentials", namespace)
    kube.wait_ready(namespace, "app", timeout=60)
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert (argocd, flux) == ("Healthy", "Current")
    assert types(obj) == {"Ready": "True"}


def test_client_id_taken_is_degraded_and_failed(control_plane: Any, operator: OperatorProcess,
                                                kube: Kube, namespace: str,
                                                sim_api: Any) -> None:
    sim_api.create_client(TENANT, {"ClientId": "taken", "Name": "someone else's",
                                   "RoleIds": [MEMBER]})
    kube.create_ccc(namespace, "app", spec(clientId="taken"))
    kube.wait_reason(namespace, "app", "ClientIdTaken")
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert (argocd, flux) == ("Degraded", "Failed")
    assert types(obj) == {"Ready": "False", "Stalled": "True"}


def test_unauthorized_operator_is_degraded_and_failed(control_plane: Any, operator_factory: Any,
                                                      kube: Kube, namespace: str) -> None:
    """The operator's own credentials refused: retried, but only an administrator fixes it."""
    operator_factory(CCOPERATOR_CLIENT_SECRET="not-the-secret").start()
    kube.create_ccc(namespace, "app", spec())
    kube.wait_reason(namespace, "app", "Unauthorized", timeout=60)
    obj, argocd, flux = judged(control_plane, namespace, "app")
    assert (argocd, flux) == ("Degraded", "Failed")
    assert types(obj) == {"Ready": "False", "Stalled": "True"}
