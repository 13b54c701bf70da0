"""Wire models of the identity API.

JSON on the wire is PascalCase (`ClientId`, `RoleIds`); Python code uses snake_case field
names. Parsing is tolerant: unknown fields are ignored, `null` lists become empty lists and
naive timestamps are read as UTC. Secret values are `SecretStr`, so `repr`, `str` and
`model_dump` show `**********`; only an explicit `.get_secret_value()` reveals them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr
from pydantic.alias_generators import to_pascal


def _as_utc(value: datetime) -> datetime:
    # The API speaks ISO 8601; a timestamp without an offset is taken as UTC rather than
    # as the operator's local time, which would differ between machines.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _none_as_empty(value: Any) -> Any:
    return [] if value is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
StrList = Annotated[list[str], BeforeValidator(_none_as_empty)]


class WireModel(BaseModel):
    """Base of every DTO: PascalCase aliases, construction by field name, extras ignored."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON body for a request: aliases, ISO timestamps, unset optionals left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ClientDto(WireModel):
    """`ClientCredentialClientDto`: the client as get, list and update show it."""

    client_id: str
    name: str = ""
    role_ids: StrList = Field(default_factory=list)
    enabled: bool | None = None


class ClientCreate(WireModel):
    """`ClientCredentialClientCreateDto`: the body of a create.

    `client_id` is optional on the wire (the server then generates a GUID), but callers that
    need exactly-once creation choose it up front so an unknown outcome can be resolved by GET.
    `secret_expiration_date` None means the first secret never expires.
    """

    client_id: str | None = None
    name: str
    role_ids: StrList = Field(default_factory=list)
    enabled: bool | None = None
    secret_description: str | None = None
    secret_expiration_date: UtcDatetime | None = None


class CreatedClient(WireModel):
    """`ClientCredentialClientResponseDto`: the only answer that ever carries the secret."""

    client_id: str
    name: str = ""
    role_ids: StrList = Field(default_factory=list)
    enabled: bool | None = None
    client_secret: SecretStr
    secret_id: int
    secret_description: str | None = None
    secret_expiration_date: UtcDatetime | None = None

    def to_dto(self) -> ClientDto:
        return ClientDto(
            client_id=self.client_id, name=self.name, role_ids=self.role_ids, enabled=self.enabled
        )


class SecretInfo(WireModel):
    """`Secret` of the secrets API; `value` is filled only in the answer that created it."""

    id: int
    description: str | None = None
    value: SecretStr | None = None
    expiration: UtcDatetime | None = None
    type: str | int | None = None


class SecretCreate(WireModel):
    """Body of add-secret and update-secret. `expiration` None means never expires."""

    description: str | None = None
    expiration: UtcDatetime | None = None

    def to_wire(self) -> dict[str, Any]:
        # Expiration is sent even when null: on update, null is a value ("never expires"),
        # not "leave unchanged".
        return self.model_dump(mode="json", by_alias=True)


SecretUpdate = SecretCreate


class ChildError(WireModel):
    """One entry of a 207 `MultiStatusResponseDto.ChildErrors`: something that was not read."""

    operation_id: str | None = None
    error: str | None = None
    reason: str | None = None
    resolution: str | None = None
    status_code: int | None = None
    model_id: dict[str, Any] | None = None
    tenant_id: str | None = None


class MultiStatus(WireModel):
    """A 207 answer of the list call."""

    operation_id: str | None = None
    error: str | None = None
    reason: str | None = None
    child_errors: list[ChildError] = Field(default_factory=list)
    data: list[ClientDto] = Field(default_factory=list)


class ClientList(BaseModel):
    """The tenant's clients, read page by page.

    `partial` is True when any page answered 207: `items` then holds what could be read and
    `child_errors` what could not. A partial list never proves that a client is absent.
    """

    items: list[ClientDto] = Field(default_factory=list)
    child_errors: list[ChildError] = Field(default_factory=list)
    partial: bool = False

    def ids(self) -> set[str]:
        return {item.client_id for item in self.items}


class Token(BaseModel):
    """An access token from the client-credentials grant."""

    access_token: SecretStr
    token_type: str = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: float
    expires_at: datetime

    def authorization(self) -> str:
        """The `Authorization` header value. Reveals the token: use only to send it."""
        return f"Bearer {self.access_token.get_secret_value()}"
