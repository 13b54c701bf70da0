"""The v1 form's wire shapes (`api/v1/...`): bodies parsed and validated, models rendered.

Where v1 differs from the unversioned form (docs/identity-api-v1.md): the client's id is
`Id`; clients carry `AccessTokenLifetime` (60-3600 s, default 3600) and `Tags`; a PUT leaves
absent or null properties as they are; the create answer is `{Secret, Id, Description,
ExpirationDate, Client}`; secrets carry `Expires` (default true, and then an `Expiration` is
required; false with an `Expiration` is a 400) and add-secret answers the one new secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from .dto import (
    UNSET,
    ClientCreate,
    ClientFields,
    SecretFields,
    Unset,
    as_object,
    checked_client_id,
    checked_enabled,
    checked_name,
    checked_role_ids,
    optional_date,
    optional_text,
)
from .model import (
    ACCOUNT_ADMINISTRATOR,
    DEFAULT_TOKEN_LIFETIME,
    MAX_TOKEN_LIFETIME,
    MEMBER_ROLE,
    MIN_TOKEN_LIFETIME,
    Client,
    Secret,
    Tenant,
    bad_input,
    format_datetime,
)

#: `RoleScope` of a tenant role (the reference's enum: 0 none, 1 tenant, 2 community, 3 cluster)
ROLE_SCOPE_TENANT: Final = 1
#: Role type ids of the built-in tenant roles, as the vendor's published client names them.
_ROLE_TYPE_IDS: Final = {
    ACCOUNT_ADMINISTRATOR: "2dc742ab-39ea-4fc0-a39e-2bcb71c26a5f",
    "Tenant Contributor": "f1439595-e5a2-487f-8a4f-0627fefe75df",
    MEMBER_ROLE: "7ad2b9ef-5386-4ead-ac9f-ad99c5c5b977",
}


# -- rendering -------------------------------------------------------------------------------


def client_dto(client: Client) -> dict[str, Any]:
    return {
        "Id": client.client_id,
        "Name": client.name,
        "Enabled": client.enabled,
        "AccessTokenLifetime": client.access_token_lifetime,
        "Tags": list(client.tags),
        "RoleIds": list(client.role_ids),
    }


def secret_dto(secret: Secret, value: str | None = None) -> dict[str, Any]:
    """`ClientSecret`; with `value`, the `ClientSecretResponse` of an add."""
    body: dict[str, Any] = {
        "Id": secret.id,
        "Description": secret.description,
        "Expiration": format_datetime(secret.expiration),
        "Expires": secret.expiration is not None,
    }
    if value is not None:
        body["Secret"] = value
    return body


def created_dto(client: Client, first: Secret, value: str) -> dict[str, Any]:
    return {
        "Secret": value,
        "Id": first.id,
        "Description": first.description,
        "ExpirationDate": format_datetime(first.expiration),
        "Client": client_dto(client),
    }


def role_dto(tenant: Tenant, name: str, role_id: str) -> dict[str, Any]:
    return {
        "Id": role_id,
        "Name": name,
        "Description": f"The {name} role of tenant {tenant.id}.",
        "RoleScope": ROLE_SCOPE_TENANT,
        "TenantId": tenant.id,
        "CommunityId": None,
        "RoleTypeId": _ROLE_TYPE_IDS.get(name),
    }


# -- parsing ---------------------------------------------------------------------------------


def _lifetime(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_input("AccessTokenLifetime: an integer number of seconds, or null")
    if not MIN_TOKEN_LIFETIME <= value <= MAX_TOKEN_LIFETIME:
        raise bad_input(
            f"AccessTokenLifetime: between {MIN_TOKEN_LIFETIME} and {MAX_TOKEN_LIFETIME} seconds"
        )
    return value


def _tags(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise bad_input("Tags: a list of strings, or null")
    return list(dict.fromkeys(value))


def parse_client_create(body: object) -> ClientCreate:
    data = as_object(body)
    fields = ClientFields(
        checked_client_id(data.get("Id"), "Id"),
        checked_name(data.get("Name")),
        checked_role_ids(data.get("RoleIds")),
        checked_enabled(data.get("Enabled")),
        _lifetime(data.get("AccessTokenLifetime")) or DEFAULT_TOKEN_LIFETIME,
        _tags(data.get("Tags")) or [],
    )
    secret = SecretFields(
        optional_text(data, "SecretDescription"), optional_date(data, "SecretExpirationDate")
    )
    return ClientCreate(fields, secret)


def parse_client_update(body: object, path_client_id: str) -> ClientFields:
    """Absent or null properties: unchanged (None)."""
    data = as_object(body)
    client_id = checked_client_id(data.get("Id"), "Id")
    if client_id is not None and client_id != path_client_id:
        raise bad_input(f"Id: body says '{client_id}' but the path says '{path_client_id}'")
    name, role_ids = data.get("Name"), data.get("RoleIds")
    return ClientFields(
        client_id,
        None if name is None else checked_name(name),
        None if role_ids is None else checked_role_ids(role_ids),
        checked_enabled(data.get("Enabled")),
        _lifetime(data.get("AccessTokenLifetime")),
        _tags(data.get("Tags")),
    )


def _expiry(data: Mapping[str, Any]) -> tuple[bool | None, datetime | None]:
    """`Expires` and a non-null `Expiration`; a 400 for `Expires: false` with a date (the
    rule shared by add and update)."""
    expires = data.get("Expires")
    if expires is not None and not isinstance(expires, bool):
        raise bad_input("Expires: must be true, false or null")
    expiration = optional_date(data, "Expiration")
    date = None if isinstance(expiration, Unset) else expiration
    if expires is False and date is not None:
        raise bad_input("Expiration: must be null when Expires is false")
    return expires, date


def parse_secret_create(body: object) -> SecretFields:
    """`Expires` true or null needs an `Expiration`; false must come without one."""
    data = as_object(body)
    expires, date = _expiry(data)
    if expires is not False and date is None:
        raise bad_input(
            "Expiration: required when Expires is true or null (set Expires to false for a "
            "secret that never expires)"
        )
    return SecretFields(optional_text(data, "Description"), date)


def parse_secret_update(body: object) -> SecretFields:
    """Absent or null properties: unchanged; `Expires: false` makes the secret never expire."""
    data = as_object(body)
    expires, date = _expiry(data)
    description = optional_text(data, "Description")
    unchanged_date: Unset | None = None if expires is False else UNSET
    return SecretFields(
        UNSET if description is None else description,
        date if date is not None else unchanged_date,
        must_expire=expires is True and date is None,
    )


def requested_ids(values: list[str]) -> list[str]:
    """The list call's `id` parameters: empty or whitespace ids are ignored."""
    return list(dict.fromkeys(v for v in values if v.strip()))
