"""Models of the identity API: what callers build and read, in the unversioned form's wire shape.

These are the public models whatever the form: `forms/` maps them to and from each form's
wire (the v1 form names the client `Id`, nests the created client, and so on). Fields that
only the v1 form has (`access_token_lifetime`, `tags`, `expires`) are never sent on the
unversioned wire and read back as None there.

JSON on the wire is PascalCase (`ClientId`, `RoleIds`); Python code uses snake_case field
names. Parsing is tolerant: unknown fields are ignored, `null` lists become empty lists and
naive timestamps are read as UTC. Secret values are `SecretStr`, so `repr`, `str` and
`model_dump` show `**********`; only an explicit `.get_secret_value()` reveals them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

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


#: Fields of the public models that only the v1 form carries.
V1_ONLY: Final = frozenset({"access_token_lifetime", "tags", "expires"})


class WireModel(BaseModel):
    """Base of every DTO: PascalCase aliases, construction by field name, extras ignored."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
    )

    def to_wire(self) -> dict[str, Any]:
        """The unversioned form's JSON body: aliases, ISO timestamps, unset optionals and
        v1-only fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude=set(V1_ONLY))


class ClientDto(WireModel):
    """`ClientCredentialClientDto`: the client as get, list and update show it."""

    client_id: str
    name: str = ""
    role_ids: StrList = Field(default_factory=list)
    enabled: bool | None = None
    #: v1 only: seconds, 60-3600 (the service's default 3600); None: not sent / not shown
    access_token_lifetime: int | None = None
    #: v1 only; None: not sent (an update then leaves the tags as they are) / not shown
    tags: list[str] | None = None


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
    access_token_lifetime: int | None = None  # v1 only
    tags: list[str] | None = None  # v1 only
    secret_description: str | None = None
    secret_expiration_date: UtcDatetime | None = None


class CreatedClient(WireModel):
    """`ClientCredentialClientResponseDto`: the only answer that ever carries the secret."""

    client_id: str
    name: str = ""
    role_ids: StrList = Field(default_factory=list)
    enabled: bool | None = None
    access_token_lifetime: int | None = None  # v1 only
    tags: list[str] | None = None  # v1 only
    client_secret: SecretStr
    secret_id: int
    secret_description: str | None = None
    secret_expiration_date: UtcDatetime | None = None

    def to_dto(self) -> ClientDto:
        return ClientDto(
            client_id=self.client_id,
            name=self.name,
            role_ids=self.role_ids,
            enabled=self.enabled,
            access_token_lifetime=self.access_token_lifetime,
            tags=self.tags,
        )


class SecretInfo(WireModel):
    """`Secret` of the secrets API; `value` is filled only in the answer that created it."""

    id: int
    description: str | None = None
    value: SecretStr | None = None
    expiration: UtcDatetime | None = None
    type: str | int | None = None
    expires: bool | None = None  # v1 only: False for a secret that never expires


@dataclass(frozen=True)
class AddedSecret:
    """The answer of add-secret: the new secret (with its value) and, when the form's answer
    holds them (unversioned: "the client's secrets"), every secret of the client right after
    the add; None when only a list call can tell (v1 answers the new secret alone)."""

    secret: SecretInfo
    secrets: tuple[SecretInfo, ...] | None = None


class SecretCreate(WireModel):
    """Body of add-secret and update-secret. `expiration` None means never expires.

    An add sends both fields. An update sends only the fields the caller set (pass
    `expiration=None` explicitly to make a secret never expire); the others stay as they are.
    """

    description: str | None = None
    expiration: UtcDatetime | None = None

    def to_wire(self) -> dict[str, Any]:
        # Expiration is sent even when null: null is a value ("never expires").
        return self.model_dump(mode="json", by_alias=True, exclude=set(V1_ONLY))

    def update_wire(self) -> dict[str, Any]:
        """The unversioned update body: only what was set."""
        return self.model_dump(mode="json", by_alias=True, include=set(self.model_fields_set))


SecretUpdate = SecretCreate


class ChildError(WireModel):
    """One entry of a 207 `MultiStatusResponseDto.ChildErrors`: something that was not read."""

    operation_id: str | None = None
    error: str | None = None
    reason: str | None = None
    resolution: str | None = None
    status_code: int | None = None
    #: `{"ClientId": ...}` in the unversioned form; the v1 reference shows a plain string
    model_id: dict[str, Any] | str | None = None
    tenant_id: str | None = None

    def names(self) -> str | None:
        """The client id this error is about, when it says."""
        if isinstance(self.model_id, str):
            return self.model_id or None
        if isinstance(self.model_id, dict):
            for key in ("ClientId", "Id"):
                value = self.model_id.get(key)
                if isinstance(value, str) and value:
                    return value
        return None


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

    def only(self, wanted: set[str]) -> ClientList:
        """The part of this list about `wanted` ids; a child error that names no client
        stays, since it may be about any of them."""
        errors = [e for e in self.child_errors if e.names() is None or e.names() in wanted]
        return ClientList(
            items=[item for item in self.items if item.client_id in wanted],
            child_errors=errors,
            partial=self.partial,
        )

    def extend(self, other: ClientList) -> None:
        """Add another read's clients (ids not seen yet), errors and partiality."""
        seen = self.ids()
        self.items.extend(item for item in other.items if item.client_id not in seen)
        self.child_errors.extend(other.child_errors)
        self.partial = self.partial or other.partial


class Role(WireModel):
    """A tenant's role (v1 `GET api/v1/Tenants/{t}/Roles`)."""

    id: str
    name: str = ""
    description: str | None = None
    role_scope: int | str | None = None
    tenant_id: str | None = None
    community_id: str | None = None
    role_type_id: str | None = None


class Token(BaseModel):
    """An access token from the client-credentials grant."""

    access_token: SecretStr
    token_type: str = "Bearer"  # noqa: S105 (a scheme name)
    expires_in: float
    expires_at: datetime

    def authorization(self) -> str:
        """The `Authorization` header value. Reveals the token: use only to send it."""
        return f"Bearer {self.access_token.get_secret_value()}"
