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
    """What a create or update body says about the client itself; on an update, None
    keeps the current value (the unversioned form always gives name and roles)."""

    client_id: str | None
    name: str | None
    role_ids: list[str] | None
    enabled: bool | None  # None: absent or null
    access_token_lifetime: int | None = None  # v1 only
    tags: list[str] | None = None  # v1 only


@dataclass(frozen=True, slots=True)
class SecretFields:
    description: str | Unset | None
    expiration: datetime | Unset | None
    #: v1 update with `Expires: true` and no `Expiration`: the secret must already expire
    must_expire: bool = False


def as_object(body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_input("body: expected a JSON object")
    return body


def checked_client_id(value: object, key: str) -> str | None:
    if value is not None and not (isinstance(value, str) and valid_client_id(value)):
        raise bad_input(
            f"{key}: 1-200 printable ASCII characters without space, '/', '?', '#', '%', "
            "'\"' or '\\'"
        )
    return value


def checked_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_input("Name: required, a non-empty string")
    return value


def checked_role_ids(value: object) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(r, str) and r for r in value):
        raise bad_input("RoleIds: required, a non-empty list of role id strings")
    # duplicates collapse, first occurrence wins the position
    return list(dict.fromkeys(value))


def checked_enabled(value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise bad_input("Enabled: must be true, false or null")
    return value


def _client_fields(body: Mapping[str, Any]) -> ClientFields:
    return ClientFields(
        checked_client_id(body.get("ClientId"), "ClientId"),
        checked_name(body.get("Name")),
        checked_role_ids(body.get("RoleIds")),
        checked_enabled(body.get("Enabled")),
    )


def optional_text(body: Mapping[str, Any], key: str) -> str | Unset | None:
    if key not in body:
        return UNSET
    value = body[key]
    if value is not None and not isinstance(value, str):
        raise bad_input(f"{key}: must be a string or null")
    return value


def optional_date(body: Mapping[str, Any], key: str) -> datetime | Unset | None:
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
    data = as_object(body)
    fields = _client_fields(data)
    secret = SecretFields(
        optional_text(data, "SecretDescription"), optional_date(data, "SecretExpirationDate")
    )
    return ClientCreate(fields, secret)


def parse_client_update(body: object, path_client_id: str) -> ClientFields:
    fields = _client_fields(as_object(body))
    if fields.client_id is not None and fields.client_id != path_client_id:
        raise bad_input(
            f"ClientId: body says '{fields.client_id}' but the path says '{path_client_id}'"
        )
    return fields


def parse_secret_body(body: object) -> SecretFields:
    data = as_object(body)
    return SecretFields(optional_text(data, "Description"), optional_date(data, "Expiration"))


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
