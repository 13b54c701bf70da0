"""The wire shapes: request bodies parsed and validated into plain values, models rendered
back into the contract's PascalCase JSON. Validation failures raise a 400 `ApiError`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar

from .model import Client, Secret, bad_input, format_datetime, parse_datetime

MAX_CLIENT_ID_LENGTH: Final = 200
_FORBIDDEN_ID_CHARS: Final = frozenset('/?#%"\\')
DEFAULT_COUNT: Final = 100
_INTEGER: Final = re.compile(r"-?[0-9]{1,12}")


class Unset:
    """Marks a field that was absent from the body (as opposed to null)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset()
T = TypeVar("T")


def given(value: T | Unset, default: T) -> T:
    """`value`, or `default` when the field was absent."""
    return default if isinstance(value, Unset) else value


def client_dto(client: Client) -> dict[str, Any]:
    return {
        "RoleIds": list(client.role_ids),
        "ClientId": client.client_id,
        "Name": client.name,
        "Enabled": client.enabled,
    }


def secret_dto(secret: Secret, value: str | None = None) -> dict[str, Any]:
    return {
        "Id": secret.id,
        "Description": secret.description,
        "Value": value,
        "Expiration": format_datetime(secret.expiration),
        "Type": secret.type,
    }


def valid_client_id(value: str) -> bool:
    return 0 < len(value) <= MAX_CLIENT_ID_LENGTH and all(
        33 <= ord(ch) <= 126 and ch not in _FORBIDDEN_ID_CHARS for ch in value
    )


@dataclass(frozen=True, slots=True)
class ClientFields:
    """What a create or update body says about the client itself."""

    client_id: str | None
    name: str
    role_ids: list[str]
    enabled: bool | None  # None: absent or null


@dataclass(frozen=True, slots=True)
class SecretFields:
    description: str | Unset | None
    expiration: datetime | Unset | None


def _object(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_input("body: expected a JSON object")
    return body


def _client_fields(body: Mapping[str, Any]) -> ClientFields:
    client_id = body.get("ClientId")
    if client_id is not None and not (isinstance(client_id, str) and valid_client_id(client_id)):
        raise bad_input(
            "ClientId: 1-200 printable ASCII characters without space, '/', '?', '#', '%', "
            "'\"' or '\\'"
        )
    name = body.get("Name")
    if not isinstance(name, str) or not name.strip():
        raise bad_input("Name: required, a non-empty string")
    role_ids = body.get("RoleIds")
    if (
        not isinstance(role_ids, list)
        or not role_ids
        or not all(isinstance(r, str) and r for r in role_ids)
    ):
        raise bad_input("RoleIds: required, a non-empty list of role id strings")
    enabled = body.get("Enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise bad_input("Enabled: must be true, false or null")
    # duplicates collapse, first occurrence wins the position
    return ClientFields(client_id, name, list(dict.fromkeys(role_ids)), enabled)


def _optional_text(body: Mapping[str, Any], key: str) -> str | Unset | None:
    if key not in body:
        return UNSET
    value = body[key]
    if value is not None and not isinstance(value, str):
        raise bad_input(f"{key}: must be a string or null")
    return value


def _optional_date(body: Mapping[str, Any], key: str) -> datetime | Unset | None:
    if key not in body:
        return UNSET
    value = body[key]
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_input(f"{key}: must be an ISO 8601 date-time string or null")
    try:
        return parse_datetime(value)
    except ValueError:
        raise bad_input(f"{key}: '{value}' is not an ISO 8601 date-time") from None


@dataclass(frozen=True, slots=True)
class ClientCreate:
    client: ClientFields
    secret: SecretFields


def parse_client_create(body: object) -> ClientCreate:
    data = _object(body)
    fields = _client_fields(data)
    secret = SecretFields(
        _optional_text(data, "SecretDescription"), _optional_date(data, "SecretExpirationDate")
    )
    return ClientCreate(fields, secret)


def parse_client_update(body: object, path_client_id: str) -> ClientFields:
    fields = _client_fields(_object(body))
    if fields.client_id is not None and fields.client_id != path_client_id:
        raise bad_input(
            f"ClientId: body says '{fields.client_id}' but the path says '{path_client_id}'"
        )
    return fields


def parse_secret_body(body: object) -> SecretFields:
    data = _object(body)
    return SecretFields(_optional_text(data, "Description"), _optional_date(data, "Expiration"))


def parse_paging(query: Mapping[str, str]) -> tuple[int, int]:
    """`skip` (default 0) and `count` (default 100): non-negative integers."""
    values: list[int] = []
    for key, default in (("skip", 0), ("count", DEFAULT_COUNT)):
        raw = query.get(key, "")
        if raw == "":
            values.append(default)
            continue
        if not _INTEGER.fullmatch(raw):
            raise bad_input(f"{key}: '{raw}' is not an integer")
        number = int(raw)
        if number < 0 or number > 2**31 - 1:
            raise bad_input(f"{key}: must be between 0 and 2147483647")
        values.append(number)
    return values[0], values[1]
