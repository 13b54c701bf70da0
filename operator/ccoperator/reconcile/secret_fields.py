"""What the Secret of a client must hold, and whether the one observed still holds the
credential the operator wrote (its annotations name the client, the secret id and a
fingerprint of the value). Pure functions."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import SecretStr

from ..api.clients import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    OWNER_UID_LABEL,
    SECRET_CLIENT_ID_ANNOTATION,
    SECRET_EXPIRES_ANNOTATION,
    SECRET_FINGERPRINT_ANNOTATION,
    SECRET_ID_ANNOTATION,
    CurrentSecret,
)
from ..api.secrets import SecretObject
from .model import Context, Observed


def fingerprint(value: SecretStr) -> str:
    """A short one-way digest of a secret value, to notice edits without storing the value."""
    digest = hashlib.sha256(b"ccoperator-fingerprint:" + value.get_secret_value().encode())
    return digest.hexdigest()[:16]


def desired_secret_fields(
    o: Observed, ctx: Context, client_id: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(data without the secret value, labels, annotations) the Secret must carry.

    The identity annotations (secret id, expiry, fingerprint) are added by the writer, since
    they depend on which credential is written.
    """
    keys = o.spec.secret.keys
    data = {
        keys.client_id: client_id,
        keys.tenant_id: o.tenant_id,
        keys.token_url: ctx.token_url,
        keys.identity_url: ctx.identity_url,
    }
    labels = {
        **o.spec.secret.labels,
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        OWNER_UID_LABEL: o.uid,
    }
    annotations = {**o.spec.secret.annotations, SECRET_CLIENT_ID_ANNOTATION: client_id}
    return data, labels, annotations


def secret_credential_intact(secret: SecretObject, client_id: str, key: str) -> bool:
    """The Secret still holds the credential we wrote for this client, unedited."""
    value = secret.data.get(key)
    return (
        secret.owned
        and secret.secret_value is not None
        and value is not None
        and secret.annotations.get(SECRET_CLIENT_ID_ANNOTATION) == client_id
        and secret.annotations.get(SECRET_FINGERPRINT_ANNOTATION) == fingerprint(SecretStr(value))
        and _int_or_none(secret.annotations.get(SECRET_ID_ANNOTATION)) is not None
    )


def secret_fields_match(secret: SecretObject, o: Observed, ctx: Context, client_id: str) -> bool:
    data, labels, annotations = desired_secret_fields(o, ctx, client_id)
    secret_key = o.spec.secret.keys.client_secret
    observed = {k: v for k, v in secret.data.items() if k != secret_key}
    return (
        observed == data
        and secret_key in secret.data
        and all(secret.labels.get(k) == v for k, v in labels.items())
        and all(secret.annotations.get(k) == v for k, v in annotations.items())
    )


def current_from_secret(secret: SecretObject) -> CurrentSecret | None:
    secret_id = _int_or_none(secret.annotations.get(SECRET_ID_ANNOTATION))
    if secret_id is None:
        return None
    expires = secret.annotations.get(SECRET_EXPIRES_ANNOTATION)
    return CurrentSecret(
        id=secret_id,
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
