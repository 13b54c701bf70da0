"""Credentials: secret values (generated, salted-hashed, checked), access tokens (issued and
looked up by digest), HTTP Basic parsing and the role check behind every call."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from urllib.parse import unquote_plus

from .model import ApiError, Secret


class Unauthorized(Exception):
    """Missing, unknown or expired bearer token: 401 with no body."""


def new_secret_value() -> str:
    return secrets.token_urlsafe(32)


def new_access_token() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(value: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """(salt, sha256(salt + value)); the simulator keeps only these two."""
    salt = os.urandom(16) if salt is None else salt
    return salt, hashlib.sha256(salt + value.encode()).digest()


def secret_matches(secret: Secret, value: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(secret.salt + value.encode()).digest(), secret.digest)


def token_key(token: str) -> str:
    """Tokens are kept (and persisted) by digest, never as issued."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized
    return token


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """client id and secret from `Authorization: Basic`, form-decoded per RFC 6749 2.3.1."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def require_role(
    caller_roles: frozenset[str], allowed_ids: frozenset[str], allowed_names: Iterable[str]
) -> None:
    """403 unless the caller holds one of the tenant's role ids that the call allows."""
    if caller_roles.isdisjoint(allowed_ids):
        names = " or ".join(allowed_names)
        raise ApiError(
            403,
            "Forbidden",
            f"The calling client lacks the role {names} in this tenant.",
            "Call with a client that holds one of the required roles.",
        )
