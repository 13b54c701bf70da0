"""Typed errors of the identity client, and the mapping from an HTTP answer to one of them.

Every error carries the call (`method`, `path`), the HTTP `status` when there was one, and
the server's `OperationId`, `Error`, `Reason`, `Resolution` texts. None of them ever carries
a token, a secret or a request body: messages are built from these fields only, and httpx
exceptions are not chained (they hold the request, and with it the Authorization header).

Which error means what to a caller:

| error | when | what the caller does |
|---|---|---|
| `InvalidInput` | 400 | permanent until the spec changes |
| `MemberRoleRequired` | 400 (v1): `RoleIds` lack the tenant's Member role | add that role id |
| `Unauthorized` | 401 after one token refresh | credentials problem |
| `InvalidClientCredentials` | token endpoint refuses the credentials | credentials problem |
| `Forbidden` | 403 | permanent until roles change |
| `TenantNotFound` | 404 on a tenant | permanent until the tenant exists |
| `ClientNotFound` | 404 on a client | the client does not exist |
| `SecretNotFound` | 404 on a secret | the secret does not exist |
| `Conflict` | 409 | the client id is taken |
| `Transient` | 408, 429, 5xx, timeouts, dropped connections (after retries) | retry later |
| `OutcomeUnknown` | a create or add-secret may or may not have happened | resolve by GET |
| `UnexpectedResponse` | anything else (e.g. an unreadable 2xx body) | report |
| `NotSupported` | no such call in the client's API form (roles, unversioned) | do without |
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class ResourceKind(Enum):
    """What a path names; decides a 404 whose body does not say what was missing."""

    CLIENTS = "clients"  # the tenant's client collection: a bare 404 means the tenant
    CLIENT = "client"
    SECRETS = "secrets"  # a client's secret collection: a bare 404 means the client
    SECRET = "secret"  # noqa: S105 (a resource kind, not a password)
    ROLES = "roles"  # the tenant's roles: a bare 404 means the tenant
    TOKEN = "token"  # noqa: S105 (discovery and token endpoint)
    OTHER = "other"


class IdentityError(Exception):
    """Base of every error the identity client raises."""

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        operation_id: str | None = None,
        error: str | None = None,
        reason: str | None = None,
        resolution: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.status = status
        self.operation_id = operation_id
        self.error = error
        self.reason = reason
        self.resolution = resolution

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidInput(IdentityError):
    """400: missing or invalid inputs; `error`/`reason` name the field."""


class MemberRoleRequired(InvalidInput):
    """400 of the v1 form: a client's `RoleIds` must hold the tenant's Member role."""


class Unauthorized(IdentityError):
    """401 even with a freshly issued token."""


class InvalidClientCredentials(Unauthorized):
    """The token endpoint refused the client id and secret (`invalid_client` and friends)."""


class Forbidden(IdentityError):
    """403: the calling client's roles do not allow the call."""


class NotFound(IdentityError):
    """404; one of the three subclasses below says what was missing."""


class TenantNotFound(NotFound):
    pass


class ClientNotFound(NotFound):
    pass


class SecretNotFound(NotFound):
    pass


class Conflict(IdentityError):
    """409: the client id is already in use."""


class Transient(IdentityError):
    """A failure worth retrying: 408, 429, 5xx, timeouts, broken connections.

    `not_processed` is True only when the server certainly did not act on the request
    (429, or a connection that was never established); then even a create may be resent.
    `retry_after` is the server's `Retry-After` in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        not_processed: bool = False,
        **fields: Any,
    ) -> None:
        super().__init__(message, **fields)
        self.retry_after = retry_after
        self.not_processed = not_processed


class OutcomeUnknown(IdentityError):
    """A non-idempotent call (create client, add secret) may or may not have taken effect.

    Never resend blindly: look (GET the chosen client id, list the secrets) and decide.
    `cause` is the `Transient` (or unreadable answer) that left the outcome open.
    """

    def __init__(self, message: str, *, cause: IdentityError | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.cause = cause


class UnexpectedResponse(IdentityError):
    """An answer the contract does not describe (unknown status, unreadable body)."""


class NotSupported(IdentityError):
    """The call has no endpoint in this client's API form; nothing was sent."""


def _names_member_role(fields: Mapping[str, str | None]) -> bool:
    # The service says so in words only ("... must include the Member role"); there is no
    # error code to match, so the texts decide.
    text = " ".join(v for v in fields.values() if v).lower()
    return "member role" in text


_NOT_FOUND_BY_WORD: dict[str, type[NotFound]] = {
    "tenant": TenantNotFound,
    "client": ClientNotFound,
    "secret": SecretNotFound,
}

_NOT_FOUND_BY_KIND: dict[ResourceKind, type[NotFound]] = {
    ResourceKind.CLIENTS: TenantNotFound,
    ResourceKind.CLIENT: ClientNotFound,
    ResourceKind.SECRETS: ClientNotFound,
    ResourceKind.SECRET: SecretNotFound,
    ResourceKind.ROLES: TenantNotFound,
}


def _not_found_from_text(text: str | None) -> type[NotFound] | None:
    # "Tenant not found" names one thing; "Client or Tenant not found" names two and so
    # tells nothing, and then the path decides.
    if not text:
        return None
    lowered = text.lower()
    if "not found" not in lowered:
        return None
    named = [cls for word, cls in _NOT_FOUND_BY_WORD.items() if word in lowered]
    return named[0] if len(named) == 1 else None


def not_found_class(kind: ResourceKind, error: str | None, reason: str | None) -> type[NotFound]:
    """Which 404: the body's `Error` text first, then `Reason`, then the kind of path."""
    return (
        _not_found_from_text(error)
        or _not_found_from_text(reason)
        or _NOT_FOUND_BY_KIND.get(kind, NotFound)
    )


def _text(body: Mapping[str, Any], name: str) -> str | None:
    # Property names are PascalCase by contract; accept camelCase from a proxy in between.
    for key in (name, name[0].lower() + name[1:]):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def error_fields(body: Any) -> dict[str, str | None]:
    """OperationId, Error, Reason, Resolution of an error body (anything else is ignored)."""
    if not isinstance(body, Mapping):
        return {"operation_id": None, "error": None, "reason": None, "resolution": None}
    return {
        "operation_id": _text(body, "OperationId"),
        "error": _text(body, "Error"),
        "reason": _text(body, "Reason"),
        "resolution": _text(body, "Resolution"),
    }


def describe(
    method: str,
    path: str,
    status: int | None,
    *,
    summary: str,
    error: str | None = None,
    reason: str | None = None,
    operation_id: str | None = None,
) -> str:
    """A one-line human message: `GET /api/...: 404 Client not found (...) [operation ...]`."""
    parts = [f"{method} {path}: "]
    parts.append(f"{status} {summary}" if status is not None else summary)
    if error and error != summary:
        parts.append(f": {error}")
    if reason:
        parts.append(f" ({reason})")
    if operation_id:
        parts.append(f" [operation {operation_id}]")
    return "".join(parts)


_SUMMARIES = {
    400: "invalid input",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    408: "request timeout",
    409: "conflict",
    429: "too many requests",
}


def error_from_status(
    *,
    method: str,
    path: str,
    status: int,
    body: Any,
    kind: ResourceKind,
    retry_after: float | None = None,
) -> IdentityError:
    """The typed error for a non-2xx answer, from its status and (parsed JSON) body."""
    fields = error_fields(body)
    summary = _SUMMARIES.get(status, "server error" if status >= 500 else "unexpected status")
    message = describe(
        method,
        path,
        status,
        summary=summary,
        error=fields["error"],
        reason=fields["reason"],
        operation_id=fields["operation_id"],
    )
    common: dict[str, Any] = {"method": method, "path": path, "status": status, **fields}
    if status == 400 or status == 422:
        cls: type[InvalidInput] = MemberRoleRequired if _names_member_role(fields) else InvalidInput
        return cls(message, **common)
    if status == 401:
        return Unauthorized(message, **common)
    if status == 403:
        return Forbidden(message, **common)
    if status == 404:
        missing = not_found_class(kind, fields["error"], fields["reason"])
        return missing(message, **common)
    if status == 409:
        return Conflict(message, **common)
    if status in (408, 429) or status >= 500:
        # 429 is the one status that says "rejected before doing anything"; a 408 or 5xx
        # may come from a proxy after the service already acted.
        return Transient(message, retry_after=retry_after, not_processed=status == 429, **common)
    return UnexpectedResponse(message, **common)
