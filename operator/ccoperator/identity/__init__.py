"""Typed async client of the tenant-scoped identity API (ClientCredentialClient + secrets).

    config = IdentityConfig(base_url=..., client_id=..., client_secret=...,
                            api_version=ApiVersion.V1)  # default: ApiVersion.UNVERSIONED
    async with IdentityClient(config) as api:
        created = await api.create_client("tenant", ClientCreate(client_id="c1", name="app"))

Errors are typed (`errors.py`), every call goes through `calls.py`, retries follow
`retry.py`, tokens come from `token_endpoint.py` and are shared by `tokens.py`.
"""

from .client import IdentityClient
from .config import IdentityConfig
from .errors import (
    ClientNotFound,
    Conflict,
    Forbidden,
    IdentityError,
    InvalidClientCredentials,
    InvalidInput,
    MemberRoleRequired,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    SecretNotFound,
    TenantNotFound,
    Transient,
    Unauthorized,
    UnexpectedResponse,
)
from .models import (
    AddedSecret,
    ChildError,
    ClientCreate,
    ClientDto,
    ClientList,
    CreatedClient,
    Role,
    SecretCreate,
    SecretInfo,
    SecretUpdate,
    Token,
)
from .retry import RetryPolicy, parse_retry_after
from .transport import OnCall
from .version import ApiVersion

__all__ = [
    "AddedSecret",
    "ApiVersion",
    "ChildError",
    "ClientCreate",
    "ClientDto",
    "ClientList",
    "ClientNotFound",
    "Conflict",
    "CreatedClient",
    "Forbidden",
    "IdentityClient",
    "IdentityConfig",
    "IdentityError",
    "InvalidClientCredentials",
    "InvalidInput",
    "MemberRoleRequired",
    "NotFound",
    "NotSupported",
    "OnCall",
    "OutcomeUnknown",
    "RetryPolicy",
    "Role",
    "SecretCreate",
    "SecretInfo",
    "SecretNotFound",
    "SecretUpdate",
    "TenantNotFound",
    "Token",
    "Transient",
    "Unauthorized",
    "UnexpectedResponse",
    "parse_retry_after",
]
