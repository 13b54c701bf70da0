"""The seed's form: the public models are its wire shapes (`models.py`)."""

from __future__ import annotations

from typing import Any, ClassVar, Final

from pydantic import TypeAdapter

from ..models import ClientCreate, ClientDto, CreatedClient, MultiStatus, SecretCreate, SecretInfo
from ..paths import UNVERSIONED, PathScheme
from ..version import ApiVersion
from .base import ApiForm

_CLIENTS: Final = TypeAdapter(list[ClientDto])
_SECRETS: Final = TypeAdapter(list[SecretInfo])


def secret_list(data: Any) -> list[SecretInfo]:
    # The contract answers a list; a single object is accepted as a list of one.
    if isinstance(data, dict):
        return [SecretInfo.model_validate(data)]
    return _SECRETS.validate_python(data)


class UnversionedForm(ApiForm):
    version: ClassVar[ApiVersion] = ApiVersion.UNVERSIONED
    paths: ClassVar[PathScheme] = UNVERSIONED
    filters_by_id: ClassVar[bool] = False

    def create_body(self, body: ClientCreate) -> dict[str, Any]:
        return body.to_wire()

    def update_body(self, body: ClientDto) -> dict[str, Any]:
        return body.to_wire()

    def add_secret_body(self, body: SecretCreate) -> dict[str, Any]:
        return body.to_wire()

    def update_secret_body(self, body: SecretCreate) -> dict[str, Any]:
        return body.update_wire()

    def read_client(self, data: Any) -> ClientDto:
        return ClientDto.model_validate(data)

    def read_list_page(self, status: int, data: Any) -> MultiStatus:
        # Tolerance: a 207 whose body is a bare list is all data and no errors.
        if status != 207 or isinstance(data, list):
            return MultiStatus(data=_CLIENTS.validate_python(data))
        return MultiStatus.model_validate(data)

    def read_created(self, data: Any) -> CreatedClient:
        return CreatedClient.model_validate(data)

    def read_secret(self, data: Any) -> SecretInfo:
        return SecretInfo.model_validate(data)

    def read_secrets(self, data: Any) -> list[SecretInfo]:
        return _SECRETS.validate_python(data)

    def read_added_secrets(self, data: Any) -> list[SecretInfo]:
        return secret_list(data)

    def added_lists_all(self, data: Any) -> bool:
        # The contract answers an add with "the client's secrets" (a list); a lone object
        # (tolerated by secret_list) says nothing about the others.
        return isinstance(data, list)
