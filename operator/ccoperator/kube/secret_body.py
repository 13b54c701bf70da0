"""A Secret's JSON body (as the API server sends it, in a GET answer or a watch event) read
into the `SecretObject` that `reconcile.decide` works on.

One reader for both sources, so a Secret seen on the watch and one fetched by GET compare
the same way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from ..api.secrets import SecretObject


def _decode(data: Mapping[str, Any] | None) -> dict[str, str]:
    decoded: dict[str, str] = {}
    for key, value in (data or {}).items():
        try:
            decoded[key] = base64.b64decode(str(value), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            # The API server only stores valid base64; a broken value reads as a changed one.
            decoded[key] = ""
    return decoded


def is_controlled_by(body: Mapping[str, Any], owner_uid: str) -> bool:
    refs = (body.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("uid") == owner_uid and ref.get("controller") for ref in refs)


def secret_from_body(body: Mapping[str, Any], owner_uid: str, secret_key: str) -> SecretObject:
    meta = body.get("metadata") or {}
    data = _decode(body.get("data"))
    value = data.get(secret_key)
    return SecretObject(
        name=str(meta.get("name", "")),
        owned=is_controlled_by(body, owner_uid),
        labels=dict(meta.get("labels") or {}),
        annotations=dict(meta.get("annotations") or {}),
        data=data,
        secret_value=SecretStr(value) if value is not None else None,
        resource_version=meta.get("resourceVersion"),
    )
