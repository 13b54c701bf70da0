"""Rotation: on request and before expiry, with the previous secret kept for a grace period."""

from __future__ import annotations

from typing import Any

from .support import Kube, OperatorProcess, token_status, wait_for


def works(sim: Any, data: dict[str, str]) -> bool:
    return token_status(sim.token_url, data["clientId"], data["clientSecret"]) == 200


def test_rotation_on_request_keeps_old_secret_for_grace(operator: OperatorProcess, kube: Kube,
                                                        namespace: str, sim: Any,
                                                        form: Any) -> None:
    kube.create_ccc(namespace, "app", form.spec())
    first = kube.wait_ready(namespace, "app")["status"]["currentSecret"]["id"]
    old = kube.secret_data(namespace, "app-credentials")
    assert old is not None
    kube.patch_ccc(namespace, "app", {"metadata": {"annotations": {
        "identity.ccoperator.io/rotate": "now"}}})
    new = wait_for(lambda: (d := kube.secret_data(namespace, "app-credentials")) and
                   d["clientSecret"] != old["clientSecret"] and d, timeout=30, what="rotated")
    assert works(sim, new)
    status = kube.get_ccc(namespace, "app")["status"]  # type: ignore[index]
    assert status["currentSecret"]["id"] != first
    assert status["rotationRequest"] == "now"
    assert [r["id"] for r in status["retiringSecrets"]] == [first]
    assert works(sim, old), "the previous secret must stay valid during the grace period"
    # Grace period is 3s in these tests: then the old one is revoked and dropped from status.
    wait_for(lambda: not works(sim, old), timeout=30, what="old secret revoked after grace")
    wait_for(lambda: not kube.get_ccc(namespace, "app")["status"].get("retiringSecrets"),  # type: ignore[index]
             timeout=30, what="retiringSecrets emptied")
    assert works(sim, new)
    kube.wait_event(namespace, "Rotated")


def test_rotation_before_expiry(operator: OperatorProcess, kube: Kube, namespace: str,
                                sim: Any, form: Any) -> None:
    # Each secret lives 1h and is replaced 59m55s before expiry: a rotation 5s after
    # issue; the point is that it happens without a request.
    kube.create_ccc(namespace, "app", form.spec(secret={"expiresAfter": "1h",
                                                   "rotateBefore": "59m55s"}))
    first = kube.wait_ready(namespace, "app")["status"]["currentSecret"]
    assert first.get("expiresAt"), "an expiring secret records its expiry"
    wait_for(lambda: kube.get_ccc(namespace, "app")["status"]["currentSecret"]["id"]  # type: ignore[index]
             != first["id"], timeout=30, what="rotation before expiry")
    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None and works(sim, data)
