"""Kubernetes reads and writes: the managed Secret, statuses, and the reads tenancy needs.

The calls are made over `kube.http` (aiohttp on the event loop, plain JSON). Writes are guarded
by resourceVersion preconditions or create-only semantics, so a concurrent change is a 409
that the next reconcile resolves, never a lost update. Any other failure is a KubeApiError.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..api.clients import API_VERSION, GROUP, KIND, PLURAL, VERSION
from ..api.secrets import SecretObject
from .http import MERGE_PATCH, KubeApiError, KubeHttp, segment
from .secret_body import is_controlled_by, secret_from_body

__all__ = ["KubeApi", "KubeApiError", "KubeConflict", "Owner", "status_merge_patch"]


class KubeConflict(Exception):
    """The object changed (or appeared, or went away) under us; observe again and retry."""


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


def _secrets_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{segment(namespace)}/secrets"


def _secret_path(namespace: str, name: str) -> str:
    return f"{_secrets_path(namespace)}/{segment(name)}"


def _status_path(namespace: str, name: str) -> str:
    return (f"/apis/{GROUP}/{VERSION}/namespaces/{segment(namespace)}/{PLURAL}/"
            f"{segment(name)}/status")


def _object_path(namespace: str, name: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{segment(namespace)}/{PLURAL}/{segment(name)}"


def _metadata(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    if not isinstance(meta, Mapping):  # the API server always sends metadata
        raise KubeConflict("object without metadata")
    return meta


def _resource_version(body: Mapping[str, Any]) -> str:
    return str(_metadata(body).get("resourceVersion", ""))


def _secret_body(owner: Owner, name: str, data: Mapping[str, str], labels: Mapping[str, str],
                 annotations: Mapping[str, str], resource_version: str | None
                 ) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": owner.namespace,
        "labels": dict(labels),
        "annotations": dict(annotations),
        "ownerReferences": [owner.reference()],
    }
    if resource_version is not None:
        # The precondition: a PUT against any other version is a 409.
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


class KubeApi:
    """The operator's Kubernetes calls. Does not own `http`: its creator closes it."""

    def __init__(self, http: KubeHttp) -> None:
        self._http = http

    async def get_secret(
        self, namespace: str, name: str, owner_uid: str, secret_key: str
    ) -> SecretObject | None:
        body = await self._read_secret(namespace, name)
        if body is None:
            return None
        return secret_from_body(body, owner_uid, secret_key)

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
        if existing is None:
            body = _secret_body(owner, name, data, labels, annotations, None)
            try:
                created = await self._http.request_json(
                    "POST", _secrets_path(owner.namespace), body)
            except KubeApiError as exc:
                if exc.status == 409:
                    raise KubeConflict(f"Secret {name} appeared while creating it") from None
                raise
            return _resource_version(created)
        body = _secret_body(owner, name, data, {**existing.labels, **labels},
                            {**existing.annotations, **annotations}, existing.resource_version)
        try:
            replaced = await self._http.request_json(
                "PUT", _secret_path(owner.namespace, name), body)
        except KubeApiError as exc:
            if exc.status in (404, 409):
                raise KubeConflict(f"Secret {name} changed while updating it") from None
            raise
        return _resource_version(replaced)

    async def delete_secret(self, namespace: str, name: str, owner_uid: str) -> None:
        """Delete a Secret we own; a missing one is fine, a foreign one is left alone."""
        body = await self._read_secret(namespace, name)
        if body is None or not is_controlled_by(body, owner_uid):
            return
        # The uid precondition: if the Secret was deleted and re-created by someone else
        # since the read, the DELETE is a 409 and theirs stays.
        options = {"apiVersion": "v1", "kind": "DeleteOptions",
                   "preconditions": {"uid": _metadata(body).get("uid")}}
        try:
            await self._http.request("DELETE", _secret_path(namespace, name), options)
        except KubeApiError as exc:
            if exc.status not in (404, 409):
                raise

    async def patch_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        """Merge-patch the status subresource (never spec); a missing resource is a conflict."""
        await self.patch_object_status(_status_path(namespace, name), patch)

    async def read_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data, decoded (None when it does not exist). For credentials the
        operator acts with: callers wrap secret values in SecretStr at once."""
        body = await self._read_secret(namespace, name)
        if body is None:
            return None
        return {k: base64.b64decode(v).decode(errors="replace")
                for k, v in (body.get("data") or {}).items()}

    async def get_object(self, path: str) -> dict[str, Any] | None:
        """Any object by its API path; None when it does not exist."""
        try:
            return await self._http.request_json("GET", path)
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def dry_run(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A write sent with dryRun=All (`ccoperator plan`): the object as the API server would
        store it (defaults, validation, admission), nothing stored. A refusal raises
        KubeRejected with the Status's reason and message. Not for Secrets."""
        separator = "&" if "?" in path else "?"
        return await self._http.request_json(method, f"{path}{separator}dryRun=All", body,
                                             explain=True)

    async def list_objects(self, path: str, page_size: int = 500) -> list[dict[str, Any]]:
        """Every item of a collection, in pages (the `continue` token)."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = f"?limit={page_size}" + (f"&continue={segment(token)}" if token else "")
            page = await self._http.request_json("GET", path + query)
            items.extend(page.get("items") or [])
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items

    async def patch_object_status(self, path: str, patch: dict[str, Any]) -> None:
        """Merge-patch a status subresource by path; a missing object is a conflict."""
        try:
            await self._http.request("PATCH", path, {"status": patch}, content_type=MERGE_PATCH)
        except KubeApiError as exc:
            if exc.status == 404:
                raise KubeConflict(f"{path} is gone") from None
            raise

    async def set_finalizers(self, namespace: str, name: str, resource_version: str,
                             finalizers: list[str]) -> None:
        """Replace the resource's finalizers, guarded by its resourceVersion (a concurrent
        change is a KubeConflict, never a lost finalizer of someone else's)."""
        patch = {"metadata": {"resourceVersion": resource_version, "finalizers": finalizers}}
        try:
            await self._http.request("PATCH", _object_path(namespace, name), patch,
                                     content_type=MERGE_PATCH)
        except KubeApiError as exc:
            if exc.status in (404, 409):
                raise KubeConflict(f"{namespace}/{name} changed while setting finalizers") \
                    from None
            raise

    async def post_event(self, namespace: str, body: dict[str, Any]) -> None:
        await self._http.request("POST", f"/api/v1/namespaces/{segment(namespace)}/events",
                                 body)

    async def _read_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.get_object(_secret_path(namespace, name))


def status_merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning `old` into `new` at the top level (lists replace whole)."""
    patch: dict[str, Any] = {k: v for k, v in new.items() if old.get(k) != v}
    patch.update({k: None for k in old if k not in new})
    return patch
