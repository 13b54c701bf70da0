"""Which form of the identity API a client speaks: the seed's unversioned paths or `api/v1`."""

from __future__ import annotations

from enum import StrEnum


class ApiVersion(StrEnum):
    """The published forms of the same service; one is chosen per `IdentityClient`."""

    UNVERSIONED = "unversioned"  # api/Tenants/{t}/ClientCredentialClient/ (the seed)
    V1 = "v1"  # api/v1/Tenants/{t}/ClientCredentialClients
