"""The v1 form (`api/v1/...`): its wire shapes and their mapping to the public models.

What differs from the unversioned form (docs/identity-api-v1.md has the whole table):
the client's id is `Id`, not `ClientId`; clients carry `AccessTokenLifetime` and `Tags`;
the create answer is the first secret with the client nested (`{Secret, Id, Description,
ExpirationDate, Client}`); add-secret answers the one new secret (`Secret` holds the value);
secrets carry `Expires`, and an expiring secret needs an `Expiration`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from pydantic import Field, SecretStr, TypeAdapter

from ..models import (
    ChildError,
    ClientCreate,
    ClientDto,
    CreatedClient,
    MultiStatus,
    Role,
    SecretCreate,
    SecretInfo,
    StrList,
    UtcDatetime,
    WireModel,
)
from ..paths import PathScheme
from ..paths_v1 import V1
from ..version import ApiVersion
from .base import ApiForm


class V1Client(WireModel):
    """`ClientCredentialClient`."""

    id: str
    name: str = ""
    enabled: bool | None = None
    access_token_lifetime: int | None = None
    tags: list[str] | None = None
    role_ids: StrList = Field(default_factory=list)

    def to_dto(self) -> ClientDto:
        return ClientDto(
            client_id=self.id,
            name=self.name,
            role_ids=self.role_ids,
            enabled=self.enabled,
            access_token_lifetime=self.access_token_lifetime,
            tags=self.tags,
        )


class V1Created(WireModel):
    """`ClientCredentialClientCreateResponse`: the first secret, the client nested."""

    secret: SecretStr
    id: int
    description: str | None = None
    expiration_date: UtcDatetime | None = None
    client: V1Client

    def to_created(self) -> CreatedClient:
        return CreatedClient(
            **self.client.to_dto().model_dump(by_alias=False),
            client_secret=self.secret,
            secret_id=self.id,
            secret_description=self.description,
            secret_expiration_date=self.expiration_date,
        )


class V1Secret(WireModel):
    """`ClientSecret`, and `ClientSecretResponse` (which adds `Secret`, the value)."""

    id: int
    description: str | None = None
    expiration: UtcDatetime | None = None
    expires: bool | None = None
    secret: SecretStr | None = None

    def to_info(self) -> SecretInfo:
        return SecretInfo(
            id=self.id,
            description=self.description,
            value=self.secret,
            expiration=self.expiration,
            expires=self.expires,
        )


class V1MultiStatus(WireModel):
    operation_id: str | None = None
    error: str | None = None
    reason: str | None = None
    child_errors: list[ChildError] = Field(default_factory=list)
    data: list[V1Client] = Field(default_factory=list)


_CLIENTS: Final = TypeAdapter(list[V1Client])
_SECRETS: Final = TypeAdapter(list[V1Secret])
_ROLES: Final = TypeAdapter(list[Role])


def _client_fields(
    client_id: str | None,
    name: str | None,
    role_ids: list[str] | None,
    enabled: bool | None,
    lifetime: int | None,
    tags: list[str] | None,
) -> dict[str, Any]:
    # None is left out: on PUT an absent property stays as it is, on POST it takes the default.
    body = {
        "Id": client_id,
        "Name": name,
        "Enabled": enabled,
        "AccessTokenLifetime": lifetime,
        "Tags": tags,
        "RoleIds": role_ids,
    }
    return {key: value for key, value in body.items() if value is not None}


class V1Form(ApiForm):
    version: ClassVar[ApiVersion] = ApiVersion.V1
    paths: ClassVar[PathScheme] = V1
    filters_by_id: ClassVar[bool] = True

    def create_body(self, body: ClientCreate) -> dict[str, Any]:
        wire = _client_fields(
            body.client_id,
            body.name,
            list(body.role_ids),
            body.enabled,
            body.access_token_lifetime,
            body.tags,
        )
        if body.secret_description is not None:
            wire["SecretDescription"] = body.secret_description
        if body.secret_expiration_date is not None:
            wire["SecretExpirationDate"] = body.secret_expiration_date.isoformat()
        return wire

    def update_body(self, body: ClientDto) -> dict[str, Any]:
        return _client_fields(
            body.client_id,
            body.name,
            list(body.role_ids),
            body.enabled,
            body.access_token_lifetime,
            body.tags,
        )

    def add_secret_body(self, body: SecretCreate) -> dict[str, Any]:
        # `Expires` defaults to true and then needs an `Expiration`: say it explicitly.
        wire: dict[str, Any] = {
            "Expiration": body.expiration.isoformat() if body.expiration else None,
            "Expires": body.expiration is not None,
        }
        if body.description is not None:
            wire["Description"] = body.description
        return wire

    def update_secret_body(self, body: SecretCreate) -> dict[str, Any]:
        # Unset or null properties stay as they are, so "never expires" is `Expires: false`.
        wire: dict[str, Any] = {}
        if "description" in body.model_fields_set and body.description is not None:
            wire["Description"] = body.description
        if "expiration" in body.model_fields_set:
            if body.expiration is None:
                wire["Expires"] = False
            else:
                wire["Expiration"] = body.expiration.isoformat()
                wire["Expires"] = True
        return wire

    def read_client(self, data: Any) -> ClientDto:
        return V1Client.model_validate(data).to_dto()

    def read_list_page(self, status: int, data: Any) -> MultiStatus:
        if status != 207 or isinstance(data, list):
            return MultiStatus(data=[c.to_dto() for c in _CLIENTS.validate_python(data)])
        page = V1MultiStatus.model_validate(data)
        return MultiStatus(
            operation_id=page.operation_id,
            error=page.error,
            reason=page.reason,
            child_errors=page.child_errors,
            data=[c.to_dto() for c in page.data],
        )

    def read_created(self, data: Any) -> CreatedClient:
        return V1Created.model_validate(data).to_created()

    def read_secret(self, data: Any) -> SecretInfo:
        return V1Secret.model_validate(data).to_info()

    def read_secrets(self, data: Any) -> list[SecretInfo]:
        return [s.to_info() for s in _SECRETS.validate_python(data)]

    def read_added_secrets(self, data: Any) -> list[SecretInfo]:
        # One object; a list (like the unversioned answer) is accepted too.
        if isinstance(data, list):
            return self.read_secrets(data)
        return [self.read_secret(data)]

    def read_roles(self, data: Any) -> list[Role]:
        return _ROLES.validate_python(data)
