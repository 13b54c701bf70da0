"""SIGKILL at each dangerous moment of a create, then restart: exactly one remote client per
resource, a Secret that authenticates, nothing orphaned (remote client or secret)."""

from __future__ import annotations

from typing import Any

from .support import Kube, default_client_id, token_status, wait_for


def assert_exactly_once(kube: Kube, namespace: str, sim: Any, form: Any,
                        uid: str) -> None:
    obj = kube.wait_ready(namespace, "app", timeout=60)
    client_id = default_client_id(namespace, "app")
    assert obj["status"]["clientId"] == client_id
    others = [c["ClientId"] for c in form.api.list_clients(form.tenant_id)
              if c["ClientId"] != sim.admin_client_id]
    assert others == [client_id], f"expected exactly one remote client, got {others}"
    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None
    assert token_status(sim.token_url, client_id, data["clientSecret"]) == 200
    # Every secret the client holds is accounted for: the one in the Secret (the lost one
    # from the interrupted create was revoked).
    secret_ids = [s["Id"] for s in form.api.secrets(form.tenant_id, client_id)]
    assert secret_ids == [obj["status"]["currentSecret"]["id"]], secret_ids
    creates = [c for c in sim.admin.calls() if c["Route"] == "clients.create"]
    assert len({c["ClientId"] for c in creates}) == 1


def test_killed_while_create_answer_is_lost(operator_factory: Any, kube: Kube, namespace: str,
                                            sim: Any, form: Any) -> None:
    # (a) The service commits the create but the answer never arrives; the operator dies.
    sim.admin.add_fault(route="clients.create", drop=True, times=1)
    operator = operator_factory().start()
    created = kube.create_ccc(namespace, "app", form.spec())
    wait_for(lambda: any(c["Route"] == "clients.create" for c in sim.admin.calls()),
             timeout=30, what="create reached the service")
    operator.kill()
    assert kube.secret(namespace, "app-credentials") is None
    operator.start()
    assert_exactly_once(kube, namespace, sim, form, created["metadata"]["uid"])


def test_killed_after_answer_before_secret_write(operator_factory: Any, kube: Kube,
                                                 namespace: str, sim: Any,
                                                 form: Any) -> None:
    # (b) The operator holds the only copy of the secret in memory when it dies.
    operator = operator_factory(CCOPERATOR_FAILPOINTS="after-create-answer").start()
    created = kube.create_ccc(namespace, "app", form.spec())
    assert operator.wait_exit(timeout=60) == -9
    assert kube.secret(namespace, "app-credentials") is None
    operator.start(CCOPERATOR_FAILPOINTS="")
    assert_exactly_once(kube, namespace, sim, form, created["metadata"]["uid"])


def test_killed_after_secret_write_before_status(operator_factory: Any, kube: Kube,
                                                 namespace: str, sim: Any,
                                                 form: Any) -> None:
    # (c) The Secret holds the credential; status does not know it yet.
    operator = operator_factory(CCOPERATOR_FAILPOINTS="after-secret-write").start()
    created = kube.create_ccc(namespace, "app", form.spec())
    assert operator.wait_exit(timeout=60) == -9
    before = kube.secret_data(namespace, "app-credentials")
    assert before is not None
    operator.start(CCOPERATOR_FAILPOINTS="")
    assert_exactly_once(kube, namespace, sim, form, created["metadata"]["uid"])
    # Nothing was reissued: the Secret written before the crash is the one in use.
    assert kube.secret_data(namespace, "app-credentials") == before
