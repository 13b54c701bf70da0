"""`ApiForm`: what differs between the forms of the identity API, behind one interface.

`IdentityClient` builds every request and reads every answer through its form, so the
operator above sees the same models whichever form a tenant speaks. Each `read_*` raises
`ValueError` (pydantic's `ValidationError` included) on a body it cannot read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ..models import (
    ClientCreate,
    ClientDto,
    CreatedClient,
    MultiStatus,
    Role,
    SecretCreate,
    SecretInfo,
)
from ..paths import PathScheme
from ..version import ApiVersion


class ApiForm(ABC):
    version: ClassVar[ApiVersion]
    paths: ClassVar[PathScheme]
    #: the list call takes an `id` filter (else the client filters after paging)
    filters_by_id: ClassVar[bool]

    # -- request bodies --------------------------------------------------------------------

    @abstractmethod
    def create_body(self, body: ClientCreate) -> dict[str, Any]: ...

    @abstractmethod
    def update_body(self, body: ClientDto) -> dict[str, Any]: ...

    @abstractmethod
    def add_secret_body(self, body: SecretCreate) -> dict[str, Any]: ...

    @abstractmethod
    def update_secret_body(self, body: SecretCreate) -> dict[str, Any]: ...

    # -- answers ---------------------------------------------------------------------------

    @abstractmethod
    def read_client(self, data: Any) -> ClientDto: ...

    @abstractmethod
    def read_list_page(self, status: int, data: Any) -> MultiStatus:
        """A 200 (a list) or 207 (a multi-status) page of the list call."""

    @abstractmethod
    def read_created(self, data: Any) -> CreatedClient: ...

    @abstractmethod
    def read_secret(self, data: Any) -> SecretInfo: ...

    @abstractmethod
    def read_secrets(self, data: Any) -> list[SecretInfo]: ...

    @abstractmethod
    def read_added_secrets(self, data: Any) -> list[SecretInfo]:
        """The add-secret answer as secrets, the new one with its value among them."""

    def added_lists_all(self, data: Any) -> bool:
        """Whether this add-secret answer lists every secret of the client (so no list call
        is needed to learn which secrets exist)."""
        return False

    def read_roles(self, data: Any) -> list[Role]:
        raise NotImplementedError(f"the {self.version} form has no roles endpoint")
