"""Kubernetes reads and writes: the managed Secret and the resource's status.

Uses the official `kubernetes` client, whose calls block, so every call runs in a worker
thread (`asyncio.to_thread`) and never stalls kopf's event loop. Writes are guarded by
resourceVersion preconditions or create-only semantics, so a concurrent change is a 409 that
the next reconcile resolves, never a lost update.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from pydantic import SecretStr

from .reconcile import SecretObject
from .resource import API_VERSION, GROUP, KIND, PLURAL, VERSION


class KubeConflict(Exception):
    """The object changed (or appeared) under us; observe again and retry."""


@dataclass(frozen=True)
class Owner:
    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def _decode(data: Mapping[str, bytes | str] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (data or {}).items()}


def _meta(obj: Any) -> k8s.V1ObjectMeta:
    meta: k8s.V1ObjectMeta | None = obj.metadata
    if meta is None:  # the API server always sends metadata; the client types it optional
        raise KubeConflict("object without metadata")
    return meta


def _is_owned_by(secret: Any, owner_uid: str) -> bool:
    refs = _meta(secret).owner_references or []
    return any(ref.uid == owner_uid and ref.controller for ref in refs)


class KubeApi:
    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._core = k8s.CoreV1Api(api_client)
        self._custom = k8s.CustomObjectsApi(api_client)

    async def get_secret(
        self, namespace: str, name: str, owner_uid: str, secret_key: str
    ) -> SecretObject | None:
        try:
            obj = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        meta = _meta(obj)
        data = _decode(obj.data)
        value = data.get(secret_key)
        return SecretObject(
            name=name,
            owned=_is_owned_by(obj, owner_uid),
            labels=dict(meta.labels or {}),
            annotations=dict(meta.annotations or {}),
            data=data,
            secret_value=SecretStr(value) if value is not None else None,
            resource_version=meta.resource_version,
        )

    async def write_secret(
        self,
        owner: Owner,
        name: str,
        data: dict[str, str],
        labels: dict[str, str],
        annotations: dict[str, str],
        existing: SecretObject | None,
    ) -> str:
        """Create the Secret, or replace the one we own (resourceVersion-guarded).

        Returns the new resourceVersion. Labels and annotations that others added to our
        Secret are kept; data is exactly what we write.
        """
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        if existing is None:
            body = k8s.V1Secret(
                metadata=k8s.V1ObjectMeta(
                    name=name,
                    namespace=owner.namespace,
                    labels=labels,
                    annotations=annotations,
                    owner_references=[owner.reference()],
                ),
                type="Opaque",
                data=encoded,
            )
            try:
                created = await asyncio.to_thread(
                    self._core.create_namespaced_secret, owner.namespace, body
                )
            except ApiException as exc:
                if exc.status == 409:
                    raise KubeConflict(f"Secret {name} appeared while creating it") from None
                raise
            return str(_meta(created).resource_version)
        body = k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(
                name=name,
                namespace=owner.namespace,
                labels={**existing.labels, **labels},
                annotations={**existing.annotations, **annotations},
                owner_references=[owner.reference()],
                resource_version=existing.resource_version,
            ),
            type="Opaque",
            data=encoded,
        )
        try:
            replaced = await asyncio.to_thread(
                self._core.replace_namespaced_secret, name, owner.namespace, body
            )
        except ApiException as exc:
            if exc.status in (404, 409):
                raise KubeConflict(f"Secret {name} changed while updating it") from None
            raise
        return str(_meta(replaced).resource_version)

    async def delete_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        """Delete a Secret we own; a missing one is fine, a foreign one is left alone."""
        try:
            obj = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        if not _is_owned_by(obj, owner_uid):
            return
        options = k8s.V1DeleteOptions(
            preconditions=k8s.V1Preconditions(uid=_meta(obj).uid)
        )
        try:
            await asyncio.to_thread(
                self._core.delete_namespaced_secret, name, namespace, body=options
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    async def patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                self._custom.patch_namespaced_custom_object_status,
                GROUP, VERSION, namespace, PLURAL, name, {"status": patch},
            )
        except ApiException as exc:
            if exc.status == 404:
                raise KubeConflict(f"{KIND} {namespace}/{name} is gone") from None
            raise


def status_merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning `old` into `new` at the top level (lists replace whole)."""
    patch: dict[str, Any] = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    return patch
