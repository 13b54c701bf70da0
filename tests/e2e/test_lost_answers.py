"""A create or secret add whose answer is lost, with the operator running: resolved on the
identity service with the fewest calls, never by a second POST of a client that landed, and
with nothing left that nobody holds (ARCHITECTURE rule 2)."""

from __future__ import annotations

from typing import Any

from .support import Kube, default_client_id, token_status


def calls_for(sim: Any, client_id: str) -> list[tuple[str, int | str]]:
    """(route, status) of every call about this client (faulted creates name no client)."""
    return [(c["Route"], c["Status"]) for c in sim.admin.calls()
            if c["ClientId"] == client_id or (c["Route"] == "clients.create" and c["Fault"])]


def assert_one_client_one_secret(kube: Kube, namespace: str, sim: Any, form: Any,
                                 uid: str) -> tuple[dict[str, Any], list[tuple[str, int | str]]]:
    """Once Ready: the operator's calls about the client (taken before this test reads
    anything itself), after checking it is the only one and holds only the Secret's secret."""
    obj = kube.wait_ready(namespace, "app", timeout=60)
    client_id = default_client_id(namespace, "app")
    calls = calls_for(sim, client_id)
    assert obj["status"]["clientId"] == client_id
    others = [c["ClientId"] for c in form.api.list_clients(form.tenant_id)
              if c["ClientId"] != sim.admin_client_id]
    assert others == [client_id]
    data = kube.secret_data(namespace, "app-credentials")
    assert data is not None
    assert token_status(sim.token_url, client_id, data["clientSecret"]) == 200
    secret_ids = [s["Id"] for s in form.api.secrets(form.tenant_id, client_id)]
    assert secret_ids == [obj["status"]["currentSecret"]["id"]], secret_ids
    return obj, calls


def test_a_lost_create_answer_is_resolved_by_a_secret_add_not_a_second_post(
        operator: Any, kube: Kube, namespace: str, sim: Any, form: Any) -> None:
    # The service commits the create, the connection drops before the answer.
    sim.admin.add_fault(route="clients.create", drop=True, times=1)
    created = kube.create_ccc(namespace, "app", form.spec())
    uid = created["metadata"]["uid"]
    obj, calls = assert_one_client_one_secret(kube, namespace, sim, form, uid)
    routes = [route for route, _ in calls]
    # One POST (the lost one); the next pass asked that id for a secret and revoked the
    # first one, whose value nobody saw.
    assert routes.count("clients.create") == 1, calls
    assert ("secrets.add", 201) in calls, calls
    assert routes.count("secrets.delete") == 1, calls
    # The unversioned add answers every secret of the client: no list is needed to find
    # the lost one. v1 answers the new secret alone, so it lists.
    assert routes.count("secrets.list") == (1 if form.api_version == "v1" else 0), calls
    assert obj["status"]["currentSecret"]["id"] == 2


def test_a_5xx_create_answer_is_resolved_by_posting_the_same_id(
        operator: Any, kube: Kube, namespace: str, sim: Any, form: Any) -> None:
    # A 500 answer (the simulator did not carry the call out): the same id is POSTed again,
    # which both reads (409 would mean ours) and creates.
    sim.admin.add_fault(route="clients.create", status=500, times=1)
    created = kube.create_ccc(namespace, "app", form.spec())
    uid = created["metadata"]["uid"]
    obj, calls = assert_one_client_one_secret(kube, namespace, sim, form, uid)
    assert [c for c in calls if c[0] == "clients.create"] == [
        ("clients.create", 500), ("clients.create", 201)], calls
    assert not [c for c in calls if c[0].startswith("secrets.")], calls
    assert obj["status"]["currentSecret"]["id"] == 1


def test_a_lost_secret_add_after_a_lost_create_is_revoked_too(
        operator: Any, kube: Kube, namespace: str, sim: Any, form: Any) -> None:
    # The create lands unseen, then the add that resolves it lands unseen as well: the pass
    # after that adds again (still no second POST) and revokes both secrets nobody holds.
    sim.admin.add_fault(route="clients.create", drop=True, times=1)
    sim.admin.add_fault(route="secrets.add", drop=True, times=1)
    created = kube.create_ccc(namespace, "app", form.spec())
    uid = created["metadata"]["uid"]
    obj, calls = assert_one_client_one_secret(kube, namespace, sim, form, uid)
    routes = [route for route, _ in calls]
    assert routes.count("clients.create") == 1, calls
    assert routes.count("secrets.add") == 2, calls
    assert routes.count("secrets.delete") == 2, calls
    assert obj["status"]["currentSecret"]["id"] == 3
