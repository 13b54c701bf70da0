"""DTO aliases, tolerant parsing, and secret values that never show unless revealed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ccoperator.identity import (
    ChildError,
    ClientCreate,
    ClientDto,
    ClientList,
    CreatedClient,
    SecretCreate,
    SecretInfo,
    Token,
)
from ccoperator.identity.models import MultiStatus
from pydantic import SecretStr

SECRET = "s3cr3t-Value-that-must-not-leak"


def test_client_dto_reads_pascal_case_and_writes_it_back() -> None:
    dto = ClientDto.model_validate(
        {"ClientId": "c1", "Name": "App", "RoleIds": ["r1", "r2"], "Enabled": False}
    )
    assert (dto.client_id, dto.name, dto.role_ids, dto.enabled) == (
        "c1",
        "App",
        ["r1", "r2"],
        False,
    )
    assert dto.to_wire() == {
        "ClientId": "c1",
        "Name": "App",
        "RoleIds": ["r1", "r2"],
        "Enabled": False,
    }
    assert dto.model_dump() == {
        "ClientId": "c1",
        "Name": "App",
        "RoleIds": ["r1", "r2"],
        "Enabled": False,
        "AccessTokenLifetime": None,  # v1 only: never on the unversioned wire
        "Tags": None,
    }


def test_construction_by_field_name() -> None:
    dto = ClientDto(client_id="c1", name="App", role_ids=["r"])
    assert dto.enabled is None
    assert dto.to_wire() == {"ClientId": "c1", "Name": "App", "RoleIds": ["r"]}


def test_parsing_is_tolerant() -> None:
    dto = ClientDto.model_validate(
        {"ClientId": "c1", "Name": "n", "RoleIds": None, "Surprise": {"x": 1}, "Enabled": None}
    )
    assert dto.role_ids == []
    assert dto.enabled is None
    minimal = ClientDto.model_validate({"ClientId": "c2"})
    assert (minimal.name, minimal.role_ids) == ("", [])


def test_create_body_leaves_out_what_is_unset() -> None:
    body = ClientCreate(name="App", role_ids=["r"])
    assert body.to_wire() == {"Name": "App", "RoleIds": ["r"]}
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    full = ClientCreate(
        client_id="c1",
        name="App",
        role_ids=["r"],
        enabled=True,
        secret_description="first",
        secret_expiration_date=when,
    )
    assert full.to_wire() == {
        "ClientId": "c1",
        "Name": "App",
        "RoleIds": ["r"],
        "Enabled": True,
        "SecretDescription": "first",
        "SecretExpirationDate": "2030-01-02T03:04:05Z",
    }


def test_naive_timestamps_are_utc_and_long_fractions_parse() -> None:
    body = ClientCreate(name="a", secret_expiration_date=datetime(2030, 1, 1))
    assert body.secret_expiration_date == datetime(2030, 1, 1, tzinfo=UTC)
    info = SecretInfo.model_validate(
        {"Id": 1, "Expiration": "2019-02-20T01:57:32.9770889-05:00", "Type": "SharedSecret"}
    )
    assert info.expiration is not None
    assert info.expiration.utcoffset() == timedelta(hours=-5)
    assert info.expiration.astimezone(UTC).hour == 6


def test_secret_create_sends_a_null_expiration() -> None:
    assert SecretCreate(description="d").to_wire() == {"Description": "d", "Expiration": None}


def test_created_client_hides_its_secret() -> None:
    created = CreatedClient.model_validate(
        {
            "ClientSecret": SECRET,
            "SecretId": 1,
            "SecretDescription": "first",
            "SecretExpirationDate": None,
            "RoleIds": ["r"],
            "ClientId": "c1",
            "Name": "App",
            "Enabled": True,
        }
    )
    for shown in (
        repr(created),
        str(created),
        created.model_dump_json(),
        json.dumps(created.model_dump(mode="json")),
        str(created.model_dump()),
        repr(created.client_secret),
        str(created.client_secret),
    ):
        assert SECRET not in shown
    assert created.client_secret.get_secret_value() == SECRET
    assert created.to_dto() == ClientDto(client_id="c1", name="App", role_ids=["r"], enabled=True)


def test_secret_info_hides_its_value() -> None:
    info = SecretInfo.model_validate({"Id": 3, "Value": SECRET, "Description": "d", "Type": 0})
    assert SECRET not in repr(info) + str(info) + info.model_dump_json()
    assert info.value is not None and info.value.get_secret_value() == SECRET
    assert SecretInfo.model_validate({"Id": 4}).value is None


def test_token_hides_the_access_token() -> None:
    token = Token(access_token=SecretStr(SECRET), expires_in=60, expires_at=datetime.now(UTC))
    assert SECRET not in repr(token) + str(token) + token.model_dump_json()
    assert token.authorization() == f"Bearer {SECRET}"


def test_multi_status_and_child_errors() -> None:
    page = MultiStatus.model_validate(
        {
            "OperationId": "op",
            "Error": "Partial",
            "ChildErrors": [
                {
                    "OperationId": "op1",
                    "Error": "Read failed",
                    "StatusCode": 500,
                    "ModelId": {"ClientId": "c9"},
                    "TenantId": "t",
                }
            ],
            "Data": [{"ClientId": "c1", "Name": "a", "RoleIds": []}],
        }
    )
    assert page.data[0].client_id == "c1"
    assert page.child_errors == [
        ChildError(
            operation_id="op1",
            error="Read failed",
            status_code=500,
            model_id={"ClientId": "c9"},
            tenant_id="t",
        )
    ]


def test_client_list_ids() -> None:
    listed = ClientList(items=[ClientDto(client_id="a"), ClientDto(client_id="b")])
    assert listed.ids() == {"a", "b"}
    assert not listed.partial
