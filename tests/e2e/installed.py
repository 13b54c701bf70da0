"""What the tests of the installed forms (Helm chart, image) check the operator does: one short
lifecycle, create -> Ready with a Secret that authenticates -> update -> delete."""

from __future__ import annotations

from typing import Any

from .support import Kube, token_status, wait_for
from .test_lifecycle import CONTRIBUTOR, TENANT, spec


def short_lifecycle(kube: Kube, sim: Any, sim_api: Any, namespace: str, what: str) -> str:
    """Run it in `namespace`; returns the client secret the Secret held (to look for leaks)."""
    kube.create_ccc(namespace, "app", spec())
    obj = kube.wait_ready(namespace, "app")
    client_id = obj["status"]["clientId"]
    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None
    assert token_status(sim.token_url, client_id, data["clientSecret"]) == 200
    kube.patch_ccc(namespace, "app", {"spec": {"roleIds": [CONTRIBUTOR]}})
    wait_for(lambda: sim_api.get_client(TENANT, client_id)["RoleIds"] == [CONTRIBUTOR],
             what=f"update {what}")
    kube.delete_ccc(namespace, "app")
    kube.wait_gone(namespace, "app")
    assert sim_api.get_client(TENANT, client_id) is None
    return data["clientSecret"]
