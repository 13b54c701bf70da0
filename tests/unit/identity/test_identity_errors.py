"""Error classification from status and body, and what error messages say (and do not)."""

from __future__ import annotations

from typing import Any

import pytest
from ccoperator.identity import (
    ClientNotFound,
    Conflict,
    Forbidden,
    IdentityError,
    InvalidInput,
    NotFound,
    SecretNotFound,
    TenantNotFound,
    Transient,
    Unauthorized,
    UnexpectedResponse,
)
from ccoperator.identity.errors import ResourceKind, error_from_status

K = ResourceKind


def body(
    error: str | None = None, reason: str | None = None, op: str | None = "op-1"
) -> dict[str, Any]:
    return {"OperationId": op, "Error": error, "Reason": reason, "Resolution": "do x"}


@pytest.mark.parametrize(
    ("status", "payload", "kind", "expected"),
    [
        (400, body("Missing or invalid inputs", "Name"), K.CLIENTS, InvalidInput),
        (422, None, K.CLIENT, InvalidInput),
        (401, None, K.CLIENT, Unauthorized),
        (403, body("Forbidden", "Account Administrator"), K.CLIENTS, Forbidden),
        (409, body("Client id already in use"), K.CLIENTS, Conflict),
        # 404 told apart by the body's Error text, whatever the path
        (404, body("Tenant not found"), K.CLIENT, TenantNotFound),
        (404, body("Client not found"), K.CLIENT, ClientNotFound),
        (404, body("Client not found"), K.SECRET, ClientNotFound),
        (404, body("Secret not found"), K.SECRET, SecretNotFound),
        (404, body("tenant NOT FOUND"), K.SECRETS, TenantNotFound),
        (404, body(None, "Tenant not found"), K.CLIENT, TenantNotFound),
        # ...and by the path when the body does not say (or names two things)
        (404, None, K.CLIENT, ClientNotFound),
        (404, None, K.CLIENTS, TenantNotFound),
        (404, None, K.SECRETS, ClientNotFound),
        (404, None, K.SECRET, SecretNotFound),
        (404, "<html>nginx</html>", K.CLIENT, ClientNotFound),
        (404, body("Client or Tenant not found"), K.CLIENT, ClientNotFound),
        (404, body("Client or Tenant not found"), K.CLIENTS, TenantNotFound),
        (404, body("Not Found"), K.SECRET, SecretNotFound),
        (404, None, K.OTHER, NotFound),
        (408, None, K.CLIENT, Transient),
        (429, None, K.CLIENTS, Transient),
        (500, body("Internal server error"), K.CLIENT, Transient),
        (502, None, K.CLIENT, Transient),
        (503, None, K.CLIENT, Transient),
        (418, None, K.CLIENT, UnexpectedResponse),
    ],
)
def test_classification(status: int, payload: Any, kind: ResourceKind, expected: type) -> None:
    error = error_from_status(method="GET", path="/p", status=status, body=payload, kind=kind)
    assert type(error) is expected
    assert isinstance(error, IdentityError)
    assert error.status == status


def test_fields_and_message() -> None:
    error = error_from_status(
        method="PUT",
        path="/api/Tenants/t/ClientCredentialClient/c",
        status=400,
        body=body("Missing or invalid inputs", "RoleIds: unknown role id", op="abc-123"),
        kind=K.CLIENT,
    )
    assert isinstance(error, InvalidInput)
    assert (error.method, error.path, error.status) == (
        "PUT",
        "/api/Tenants/t/ClientCredentialClient/c",
        400,
    )
    assert (error.operation_id, error.error, error.reason, error.resolution) == (
        "abc-123",
        "Missing or invalid inputs",
        "RoleIds: unknown role id",
        "do x",
    )
    text = str(error)
    for part in (
        "PUT",
        "/api/Tenants/t/ClientCredentialClient/c",
        "400",
        "Missing or invalid inputs",
        "RoleIds",
        "abc-123",
    ):
        assert part in text
    assert repr(error).startswith("InvalidInput(")


def test_camel_case_body_is_read_too() -> None:
    error = error_from_status(
        method="GET",
        path="/p",
        status=404,
        body={"operationId": "o", "error": "Secret not found"},
        kind=K.CLIENT,
    )
    assert isinstance(error, SecretNotFound)
    assert error.operation_id == "o"


def test_only_429_is_known_unprocessed() -> None:
    e429 = error_from_status(
        method="POST", path="/p", status=429, body=None, kind=K.CLIENTS, retry_after=2.5
    )
    e503 = error_from_status(
        method="POST", path="/p", status=503, body=None, kind=K.CLIENTS, retry_after=1
    )
    e408 = error_from_status(method="POST", path="/p", status=408, body=None, kind=K.CLIENTS)
    assert (
        isinstance(e429, Transient) and isinstance(e503, Transient) and isinstance(e408, Transient)
    )
    assert e429.not_processed and e429.retry_after == 2.5
    assert not e503.not_processed and e503.retry_after == 1
    assert not e408.not_processed and e408.retry_after is None


def test_unknown_fields_of_an_error_body_do_not_reach_the_message() -> None:
    payload = body("Forbidden", "needs Account Administrator")
    payload["Echo"] = "Bearer eyJ-not-to-be-shown"
    error = error_from_status(method="GET", path="/p", status=403, body=payload, kind=K.CLIENT)
    assert "eyJ" not in str(error) + repr(error)
