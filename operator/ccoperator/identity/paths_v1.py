"""Paths of the identity API's v1 form (`api/v1/...`); same route names as the unversioned form,
so metrics and the simulator's call log do not depend on the form."""

from __future__ import annotations

from typing import Final

from .paths import PathScheme

V1: Final = PathScheme(
    clients="/api/v1/Tenants/{t}/ClientCredentialClients",
    client="/api/v1/Tenants/{t}/ClientCredentialClients/{c}",
    secrets="/api/v1/Tenants/{t}/ClientCredentialClients/{c}/Secrets",
    secret="/api/v1/Tenants/{t}/ClientCredentialClients/{c}/Secrets/{s}",  # noqa: S106
    roles="/api/v1/Tenants/{t}/Roles",
)
