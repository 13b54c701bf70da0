"""SQLite state: a round trip through the file, and survival of a kill -9 of the process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from identity_sim.bootstrap import DEFAULT_BOOTSTRAP, DEFAULT_ROLES, apply_bootstrap
from identity_sim.dto import parse_client_create, parse_client_update, parse_secret_body
from identity_sim.persistence import Database
from identity_sim.store import Store
from identity_sim.testing import SimProcess

MEMBER = DEFAULT_ROLES["Tenant Member"]


def open_store(path: Path) -> Store:
    return Store(Database(path), token_ttl=600)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    apply_bootstrap(store, DEFAULT_BOOTSTRAP, admin_secret="s3cret")
    tenant = store.tenant("demo-tenant")
    values = {}
    for n in range(4):
        body = parse_client_create(
            {
                "ClientId": f"c{n}",
                "Name": f"n{n}",
                "RoleIds": [MEMBER],
                "Enabled": n != 2,
                "SecretDescription": "first",
                "SecretExpirationDate": "2031-05-06T07:08:09.5+02:00",
            }
        )
        _client, _, values[n] = store.create_client(tenant, body.client, body.secret)
    store.update_client(
        tenant, "c1", parse_client_update({"Name": "renamed", "RoleIds": [MEMBER]}, "c1")
    )
    store.delete_client(tenant, "c0")
    c3 = store.get_client(tenant, "c3")
    _, v3b = store.add_secret(c3, parse_secret_body({"Description": "second"}))
    store.delete_secret(c3, "1")
    store.update_secret(c3, "2", parse_secret_body({"Expiration": "2040-01-01T00:00:00Z"}))
    token = store.issue_token("c3", v3b)
    assert token is not None
    store.advance_clock(120)
    before = store.snapshot()
    store.close()

    again = open_store(path)
    after = again.snapshot()
    for snap in (before, after):
        del snap["Now"]
    assert after == before
    tenant = again.tenant("demo-tenant")
    assert [c.client_id for c in again.list_clients(tenant, 0, 10)] == [
        "ccoperator-admin",
        "c1",
        "c2",
        "c3",
    ]
    assert again.get_client(tenant, "c1").name == "renamed"
    assert again.verify_token(token).client_id == "c3"
    assert again.issue_token("c3", v3b) is not None
    assert again.issue_token("c1", values[1]) is not None
    assert again.issue_token("ccoperator-admin", "s3cret") is not None
    assert again.clock.offset == 120
    c3 = again.get_client(tenant, "c3")
    assert c3.next_secret_id == 3
    third, _ = again.add_secret(c3, parse_secret_body({}))
    assert third.id == 3
    again.close()


def test_no_secret_value_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    apply_bootstrap(store, DEFAULT_BOOTSTRAP, admin_secret="visible-admin-secret")
    body = parse_client_create({"ClientId": "c", "Name": "n", "RoleIds": [MEMBER]})
    _, _, value = store.create_client(store.tenant("demo-tenant"), body.client, body.secret)
    token = store.issue_token("c", value)
    assert token is not None
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for needle in (value, "visible-admin-secret", token):
        assert needle.encode() not in raw


def test_reset_wipes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    apply_bootstrap(store, DEFAULT_BOOTSTRAP)
    store.reset()
    store.close()
    again = open_store(path)
    assert again.empty and not again.clients
    again.close()


@pytest.mark.timeout(60)
def test_state_survives_kill_9_after_an_answer(tmp_path: Path) -> None:
    with SimProcess(state=tmp_path / "sim.db", workdir=tmp_path / "w") as proc:
        port = proc.port
        headers = {"Authorization": f"Bearer {proc.token()}"}
        collection = f"{proc.base_url}/api/Tenants/demo-tenant/ClientCredentialClient/"
        created = httpx.post(
            collection,
            json={"ClientId": "durable", "Name": "d", "RoleIds": [MEMBER]},
            headers=headers,
            trust_env=False,
        )
        assert created.status_code == 201
        secret = created.json()["ClientSecret"]
        proc.restart(hard=True)  # kill -9 right after the answer
        assert proc.port == port
        got = httpx.get(collection + "durable", headers=headers, trust_env=False)
        assert got.status_code == 200  # the token issued before the crash is still valid
        assert got.json()["Name"] == "d"
        proc.token("durable", secret)  # and so is the secret
        proc.token()  # and the administrator's (fixed) secret
        assert proc.ready["admin_client_secret"] == proc.admin_client_secret
