"""Store logic without HTTP: clients, paging, secrets, tokens, clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from identity_sim.auth import Unauthorized
from identity_sim.bootstrap import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_ROLES,
    DEFAULT_V1_ROLES,
    apply_bootstrap,
)
from identity_sim.dto import (
    parse_client_create,
    parse_client_update,
    parse_paging,
    parse_secret_body,
)
from identity_sim.model import ApiError, Tenant
from identity_sim.store import Store

MEMBER = DEFAULT_ROLES["Tenant Member"]


@pytest.fixture
def store() -> Store:
    s = Store(token_ttl=60)
    apply_bootstrap(s, DEFAULT_BOOTSTRAP, admin_secret="admin-secret")
    return s


@pytest.fixture
def tenant(store: Store) -> Tenant:
    return store.tenant("demo-tenant")


def create(store: Store, tenant: Tenant, client_id: str | None = None, **body: object):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"Name": "n", "RoleIds": [MEMBER], **body}
    if client_id is not None:
        data["ClientId"] = client_id
    parsed = parse_client_create(data)
    return store.create_client(tenant, parsed.client, parsed.secret)


def test_create_with_chosen_id_then_conflict(store: Store, tenant: Tenant) -> None:
    client, secret, value = create(store, tenant, "app-1")
    assert (client.client_id, client.enabled, secret.id) == ("app-1", True, 1)
    assert value and store.accepts(client, value)
    with pytest.raises(ApiError) as err:
        create(store, tenant, "app-1")
    assert (err.value.status, err.value.error) == (409, "Client id already in use")


def test_client_ids_are_global(store: Store, tenant: Tenant) -> None:
    other = store.put_tenant("other", {"Account Administrator": "other-aa"})
    create(store, tenant, "shared")
    with pytest.raises(ApiError) as err:
        create(store, other, "shared")
    assert err.value.status == 409


def test_generated_id_is_a_guid(store: Store, tenant: Tenant) -> None:
    client, _, _ = create(store, tenant)
    assert len(client.client_id) == 36 and client.client_id.count("-") == 4


def test_secret_value_is_not_kept(store: Store, tenant: Tenant) -> None:
    client, secret, value = create(store, tenant, "app-1")
    assert value.encode() not in secret.digest and secret.salt
    assert value not in repr(client)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"RoleIds": [MEMBER]}, "Name"),
        ({"Name": "", "RoleIds": [MEMBER]}, "Name"),
        ({"Name": "   ", "RoleIds": [MEMBER]}, "Name"),
        ({"Name": 3, "RoleIds": [MEMBER]}, "Name"),
        ({"Name": "n"}, "RoleIds"),
        ({"Name": "n", "RoleIds": []}, "RoleIds"),
        ({"Name": "n", "RoleIds": "x"}, "RoleIds"),
        ({"Name": "n", "RoleIds": [MEMBER], "Enabled": "yes"}, "Enabled"),
        ({"Name": "n", "RoleIds": [MEMBER], "ClientId": "a/b"}, "ClientId"),
        ({"Name": "n", "RoleIds": [MEMBER], "ClientId": ""}, "ClientId"),
        ({"Name": "n", "RoleIds": [MEMBER], "ClientId": "x" * 201}, "ClientId"),
        (
            {"Name": "n", "RoleIds": [MEMBER], "SecretExpirationDate": "tomorrow"},
            "SecretExpirationDate",
        ),
        ({"Name": "n", "RoleIds": [MEMBER], "SecretExpirationDate": 5}, "SecretExpirationDate"),
        ({"Name": "n", "RoleIds": [MEMBER], "SecretDescription": 5}, "SecretDescription"),
    ],
)
def test_create_validation(body: dict[str, object], field: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_client_create(body)
    assert err.value.status == 400
    assert err.value.error == "Missing or invalid inputs"
    assert err.value.reason.startswith(field)


def test_unknown_role_id_is_400(store: Store, tenant: Tenant) -> None:
    with pytest.raises(ApiError) as err:
        create(store, tenant, "x", RoleIds=[MEMBER, "nope"])
    assert err.value.status == 400 and "nope" in err.value.reason


def test_roles_of_other_tenants_are_known(store: Store, tenant: Tenant) -> None:
    store.put_tenant("other", {"Account Administrator": "other-aa"})
    client, _, _ = create(store, tenant, "x", RoleIds=["other-aa", "other-aa", MEMBER])
    assert client.role_ids == ["other-aa", MEMBER]  # duplicates collapse


def test_expiration_is_parsed_and_normalised(store: Store, tenant: Tenant) -> None:
    _, secret, _ = create(
        store, tenant, "x", SecretExpirationDate="2019-02-20T01:57:32.9770889-05:00"
    )
    assert secret.expiration == datetime(2019, 2, 20, 6, 57, 32, 977088, tzinfo=UTC)
    _, naive, _ = create(store, tenant, "y", SecretExpirationDate="2030-01-01T00:00:00")
    assert naive.expiration == datetime(2030, 1, 1, tzinfo=UTC)


def test_update(store: Store, tenant: Tenant) -> None:
    create(store, tenant, "app", Enabled=False)
    fields = parse_client_update({"Name": "renamed", "RoleIds": [MEMBER]}, "app")
    client = store.update_client(tenant, "app", fields)
    assert (client.name, client.enabled) == ("renamed", False)  # absent Enabled: unchanged
    fields = parse_client_update(
        {"ClientId": "app", "Name": "r", "RoleIds": [MEMBER], "Enabled": True}, "app"
    )
    assert store.update_client(tenant, "app", fields).enabled is True
    with pytest.raises(ApiError) as err:
        parse_client_update({"ClientId": "other", "Name": "r", "RoleIds": [MEMBER]}, "app")
    assert err.value.status == 400 and err.value.reason.startswith("ClientId")
    with pytest.raises(ApiError) as err:
        store.update_client(tenant, "missing", fields)
    assert (err.value.status, err.value.error) == (404, "Client not found")


def test_delete_removes_client_and_secrets(store: Store, tenant: Tenant) -> None:
    _client, _, value = create(store, tenant, "app")
    store.delete_client(tenant, "app")
    assert "app" not in store.clients and "app" not in tenant.clients
    assert store.issue_token("app", value) is None
    with pytest.raises(ApiError):
        store.delete_client(tenant, "app")
    create(store, tenant, "app")  # the id is free again
    assert store.get_client(tenant, "app").secrets.keys() == {1}


def test_get_is_tenant_scoped(store: Store, tenant: Tenant) -> None:
    other = store.put_tenant("other", {})
    create(store, tenant, "app")
    with pytest.raises(ApiError) as err:
        store.get_client(other, "app")
    assert err.value.error == "Client not found"
    with pytest.raises(ApiError) as err:
        store.tenant("nope")
    assert (err.value.status, err.value.error) == (404, "Tenant not found")


# -- paging ------------------------------------------------------------------------------------


def test_paging_edges(store: Store, tenant: Tenant) -> None:
    for n in range(5):
        create(store, tenant, f"c{n}")
    ids = [c.client_id for c in store.list_clients(tenant, 0, 100)]
    assert ids == ["ccoperator-admin", "c0", "c1", "c2", "c3", "c4"]  # creation order
    assert [c.client_id for c in store.list_clients(tenant, 2, 2)] == ["c1", "c2"]
    assert [c.client_id for c in store.list_clients(tenant, 5, 10)] == ["c4"]
    assert store.list_clients(tenant, 6, 10) == []
    assert store.list_clients(tenant, 100, 10) == []
    assert store.list_clients(tenant, 0, 0) == []
    store.delete_client(tenant, "c1")
    create(store, tenant, "c1")
    assert [c.client_id for c in store.list_clients(tenant, 0, 100)][-1] == "c1"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, (0, 100)),
        ({"skip": "", "count": ""}, (0, 100)),
        ({"skip": "3", "count": "0"}, (3, 0)),
        ({"skip": "0", "count": "2147483647"}, (0, 2147483647)),
        ({"query": "anything"}, (0, 100)),
    ],
)
def test_paging_parameters(query: dict[str, str], expected: tuple[int, int]) -> None:
    assert parse_paging(query) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"skip": "-1"},
        {"count": "-5"},
        {"skip": "x"},
        {"count": "1.5"},
        {"count": "2147483648"},
        {"skip": " 1"},
    ],
)
def test_bad_paging_is_400(query: dict[str, str]) -> None:
    with pytest.raises(ApiError) as err:
        parse_paging(query)
    assert err.value.status == 400


# -- secrets -------------------------------------------------------------------------------------


def test_secret_ids_increment_and_are_never_reused(store: Store, tenant: Tenant) -> None:
    client, _, _ = create(store, tenant, "app")
    second, v2 = store.add_secret(client, parse_secret_body({"Description": "two"}))
    assert second.id == 2 and second.description == "two" and store.accepts(client, v2)
    store.delete_secret(client, "2")
    third, _ = store.add_secret(client, parse_secret_body({}))
    assert third.id == 3
    assert list(client.secrets) == [1, 3]


def test_secret_cap(store: Store, tenant: Tenant) -> None:
    client, _, _ = create(store, tenant, "app")
    for _ in range(9):
        store.add_secret(client, parse_secret_body({}))
    with pytest.raises(ApiError) as err:
        store.add_secret(client, parse_secret_body({}))
    assert err.value.status == 400 and "10" in err.value.reason
    store.delete_secret(client, "1")
    store.add_secret(client, parse_secret_body({}))
    assert len(client.secrets) == 10


def test_secret_update_replaces_only_given_fields(store: Store, tenant: Tenant) -> None:
    client, _, _ = create(
        store, tenant, "app", SecretDescription="d", SecretExpirationDate="2030-01-01T00:00:00Z"
    )
    secret = store.update_secret(client, "1", parse_secret_body({"Description": "e"}))
    assert secret.description == "e" and secret.expiration is not None
    secret = store.update_secret(client, "1", parse_secret_body({"Expiration": None}))
    assert secret.description == "e" and secret.expiration is None


@pytest.mark.parametrize("secret_id", ["9", "x", "-1", "", "1.0"])
def test_unknown_secret_is_404(store: Store, tenant: Tenant, secret_id: str) -> None:
    client, _, _ = create(store, tenant, "app")
    with pytest.raises(ApiError) as err:
        store.get_secret(client, secret_id)
    assert (err.value.status, err.value.error) == (404, "Secret not found")


# -- tokens and clock ------------------------------------------------------------------------------


def test_token_issue_and_refusals(store: Store, tenant: Tenant) -> None:
    client, _, value = create(store, tenant, "app")
    token = store.issue_token("app", value)
    assert token is not None
    assert store.verify_token(token).client_id == "app"
    assert store.issue_token("app", "wrong") is None
    assert store.issue_token("nobody", value) is None
    client.enabled = False
    assert store.issue_token("app", value) is None
    store.verify_token(token)  # already issued: still valid until expiry


def test_expired_secret_is_refused(store: Store, tenant: Tenant) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    client, _, value = create(store, tenant, "app", SecretExpirationDate=soon)
    assert store.issue_token("app", value) is not None
    store.advance_clock(31)
    assert store.issue_token("app", value) is None
    other, v2 = store.add_secret(client, parse_secret_body({}))
    assert store.issue_token("app", v2) is not None
    store.delete_secret(client, str(other.id))
    assert store.issue_token("app", v2) is None


def test_token_expiry_by_ttl_clock_and_admin(store: Store, tenant: Tenant) -> None:
    token = store.issue_token("ccoperator-admin", "admin-secret")
    assert token is not None
    store.advance_clock(59)
    store.verify_token(token)
    store.advance_clock(1)
    with pytest.raises(Unauthorized):
        store.verify_token(token)
    token = store.issue_token("ccoperator-admin", "admin-secret")
    assert token is not None
    assert store.expire_tokens() == 2
    with pytest.raises(Unauthorized):
        store.verify_token(token)


def test_token_roles_are_a_snapshot(store: Store, tenant: Tenant) -> None:
    _, _, value = create(store, tenant, "app")
    token = store.issue_token("app", value)
    assert token is not None
    store.update_client(
        tenant,
        "app",
        parse_client_update({"Name": "n", "RoleIds": [DEFAULT_ROLES["Cluster Support"]]}, "app"),
    )
    assert store.verify_token(token).role_ids == {MEMBER}
    fresh = store.issue_token("app", value)
    assert fresh is not None
    assert store.verify_token(fresh).role_ids == {DEFAULT_ROLES["Cluster Support"]}


def test_bootstrap_twice_keeps_ids_and_replaces_admin_secret(store: Store) -> None:
    again = apply_bootstrap(store, DEFAULT_BOOTSTRAP)
    assert again.tenants["demo-tenant"] == DEFAULT_ROLES
    admin = store.clients["ccoperator-admin"]
    # Account Administrator of each bootstrapped tenant: demo-tenant and demo-tenant-v1
    assert admin.role_ids == [
        DEFAULT_ROLES["Account Administrator"],
        DEFAULT_V1_ROLES["Account Administrator"],
    ]
    assert again.admin_client_secret and store.accepts(admin, again.admin_client_secret)
    assert not store.accepts(admin, "admin-secret")
