"""No secret value or token appears in the operator's logs, events, status or annotations."""

from __future__ import annotations

import json
from typing import Any

from .support import Kube, OperatorProcess, wait_for
from .test_lifecycle import spec


def test_secret_values_stay_in_the_secret(operator: OperatorProcess, kube: Kube,
                                          namespace: str, sim: Any) -> None:
    for name in ("a", "b"):
        kube.create_ccc(namespace, name, spec())
    for name in ("a", "b"):
        kube.wait_ready(namespace, name)
    values = []
    for name in ("a", "b"):
        data = kube.secret_data(namespace, f"{name}-credentials")
        assert data is not None
        values.append(data["clientSecret"])
    # A rotation and a repair issue more secrets: collect those values too.
    kube.patch_ccc(namespace, "a", {"metadata": {"annotations": {
        "identity.ccoperator.io/rotate": "1"}}})
    rotated = wait_for(lambda: (d := kube.secret_data(namespace, "a-credentials")) and
                       d["clientSecret"] not in values and d, timeout=30, what="rotation")
    values.append(rotated["clientSecret"])
    values.append(sim.admin_client_secret)
    assert all(len(v) >= 16 for v in values)

    logs = operator.logs()
    assert "Created client" in logs or "reconcil" in logs.lower() or logs, "no logs captured"
    kube.wait_event(namespace, "Rotated")  # the rotation's events are among those read
    events = json.dumps([e.to_dict() for e in kube.events(namespace)], default=str)
    objects = json.dumps([kube.get_ccc(namespace, n) for n in ("a", "b")], default=str)
    for value in values:
        assert value not in logs, "a secret value is in the operator's log"
        assert value not in events, "a secret value is in an event"
        assert value not in objects, "a secret value is in a resource's status or metadata"
    # Access tokens are secrets too: the operator never logs an Authorization header.
    assert "Bearer " not in logs
