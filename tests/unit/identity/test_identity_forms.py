"""The two API forms: paths, request bodies, answers, and the list helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from ccoperator.identity import (
    ApiVersion,
    ClientCreate,
    ClientDto,
    IdentityConfig,
    InvalidInput,
    MemberRoleRequired,
    SecretCreate,
)
from ccoperator.identity.errors import ResourceKind, error_from_status
from ccoperator.identity.forms import UnversionedForm, V1Form, form_for
from ccoperator.identity.listing import id_chunks, total_count
from ccoperator.identity.paths_v1 import V1

WHEN = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_api_version_values_and_default() -> None:
    assert [v.value for v in ApiVersion] == ["unversioned", "v1"]
    config = IdentityConfig(base_url="http://x", client_id="c", client_secret="s")
    assert config.api_version is ApiVersion.UNVERSIONED
    assert isinstance(form_for(ApiVersion.V1), V1Form)
    assert isinstance(form_for(config.api_version), UnversionedForm)


def test_v1_paths_keep_the_route_names() -> None:
    assert V1.clients_list("t").path == "/api/v1/Tenants/t/ClientCredentialClients"
    assert V1.clients_get("t", "a/b").path == "/api/v1/Tenants/t/ClientCredentialClients/a%2Fb"
    assert V1.secrets_get("t", "c", 3).path.endswith("/ClientCredentialClients/c/Secrets/3")
    assert V1.clients_get("t", "c").name == "clients.get"
    roles = V1.roles_list("t")
    assert roles is not None and (roles.name, roles.path) == (
        "roles.list",
        "/api/v1/Tenants/t/Roles",
    )
    assert UnversionedForm.paths.roles_list("t") is None


def test_v1_only_fields_never_reach_the_unversioned_wire() -> None:
    body = ClientCreate(
        client_id="c", name="n", role_ids=["r"], tags=["t"], access_token_lifetime=60
    )
    assert UnversionedForm().create_body(body) == {"ClientId": "c", "Name": "n", "RoleIds": ["r"]}
    dto = ClientDto(client_id="c", name="n", role_ids=["r"], tags=[], access_token_lifetime=60)
    assert UnversionedForm().update_body(dto) == {"ClientId": "c", "Name": "n", "RoleIds": ["r"]}


def test_v1_client_bodies() -> None:
    body = ClientCreate(
        name="n", role_ids=["r"], tags=["t"], access_token_lifetime=600, secret_expiration_date=WHEN
    )
    assert V1Form().create_body(body) == {
        "Name": "n",
        "RoleIds": ["r"],
        "Tags": ["t"],
        "AccessTokenLifetime": 600,
        "SecretExpirationDate": WHEN.isoformat(),
    }
    # PUT: what is None is left out, so the service keeps it
    dto = ClientDto(client_id="c", name="n", role_ids=["r"], enabled=False)
    assert V1Form().update_body(dto) == {"Id": "c", "Name": "n", "Enabled": False, "RoleIds": ["r"]}


def test_v1_secret_bodies() -> None:
    form = V1Form()
    assert form.add_secret_body(SecretCreate(description="d", expiration=WHEN)) == {
        "Description": "d",
        "Expiration": WHEN.isoformat(),
        "Expires": True,
    }
    assert form.add_secret_body(SecretCreate()) == {"Expiration": None, "Expires": False}
    assert form.update_secret_body(SecretCreate(description="d")) == {"Description": "d"}
    assert form.update_secret_body(SecretCreate(expiration=None)) == {"Expires": False}
    assert form.update_secret_body(SecretCreate(expiration=WHEN)) == {
        "Expiration": WHEN.isoformat(),
        "Expires": True,
    }
    # the unversioned update sends only what was set, too
    assert UnversionedForm().update_secret_body(SecretCreate(description="d")) == {
        "Description": "d"
    }
    assert UnversionedForm().update_secret_body(SecretCreate(expiration=None)) == {
        "Expiration": None
    }


def test_v1_answers() -> None:
    form = V1Form()
    client = {
        "Id": "c",
        "Name": "n",
        "Enabled": True,
        "AccessTokenLifetime": 60,
        "Tags": None,
        "RoleIds": ["r"],
    }
    created = form.read_created(
        {"Secret": "value", "Id": 1, "Description": "d", "ExpirationDate": None, "Client": client}
    )
    assert (created.client_id, created.secret_id, created.secret_description) == ("c", 1, "d")
    assert created.client_secret.get_secret_value() == "value" and "value" not in repr(created)
    assert created.to_dto() == form.read_client(client)
    added = form.read_added_secrets({"Id": 2, "Expires": False, "Expiration": None, "Secret": "v2"})
    assert [(s.id, s.expires, s.value is not None) for s in added] == [(2, False, True)]
    page = form.read_list_page(
        207, {"ChildErrors": [{"ModelId": "gone", "StatusCode": 500}], "Data": [client]}
    )
    assert [d.client_id for d in page.data] == ["c"] and page.child_errors[0].names() == "gone"


def test_a_400_naming_the_member_role_is_typed() -> None:
    body = {"Error": "Missing or invalid inputs", "Reason": "RoleIds: the Member role is required."}
    error = error_from_status(
        method="POST", path="/p", status=400, body=body, kind=ResourceKind.CLIENTS
    )
    assert isinstance(error, MemberRoleRequired) and isinstance(error, InvalidInput)
    other = error_from_status(
        method="POST", path="/p", status=400, body={"Reason": "Name"}, kind=ResourceKind.CLIENTS
    )
    assert type(other) is InvalidInput


def test_id_chunks_keep_urls_short() -> None:
    ids = [f"id-{n:05d}-{'ü' * 20}" for n in range(500)]
    chunks = list(id_chunks(ids, max_ids=100))
    assert [i for chunk in chunks for i in chunk] == ids
    for chunk in chunks:
        assert len(chunk) <= 100
        assert len("&".join(f"id={quote(i, safe='')}" for i in chunk)) <= 3000
    assert list(id_chunks(["x" * 5000, "y"], max_ids=10)) == [["x" * 5000], ["y"]]
    assert list(id_chunks([], max_ids=5)) == []


@pytest.mark.parametrize(
    ("raw", "count"), [("12", 12), (" 3 ", 3), ("", None), ("-1", None), (None, None), ("x", None)]
)
def test_total_count(raw: str | None, count: int | None) -> None:
    assert total_count(raw) == count
