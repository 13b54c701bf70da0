"""A Kubernetes Secret as the operator reads it: what decisions need of the Secret a client's
credentials live in (kube/secret_body.py parses a body into it)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr


@dataclass(frozen=True)
class SecretObject:
    """A Kubernetes Secret as observed. `data` holds decoded values; the secret one is SecretStr."""

    name: str
    owned: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    data: dict[str, str]
    secret_value: SecretStr | None
    resource_version: str | None = None
