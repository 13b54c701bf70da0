"""What a pass observes before it decides: the resource's Secret and the remote client.

Reads are chosen by why the pass runs. A change is read fresh (a GET of the Secret, a GET of
the client; on a spec change the client is not read at all: it is PUT as the spec says). A
resume or resync reads the watch's copy of the Secret and the tenant's shared paged list
(tenants/remote.py). A first create whose Secret name neither Secret watch knows reads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import metrics
from .. import reconcile as rc
from ..api.clients import ClientSpec, ClientStatus, ObservedSecret
from ..api.marks import Mark, issuer_from_secrets, mark_from_secrets
from ..identity import ApiVersion
from ..kube.api import KubeApi
from ..kube.secret_cache import SecretCache
from .gate import Admitted
from .status import StatusWriter
from .view import Cause, ResourceView


class Observer:
    def __init__(self, kube: KubeApi, status: StatusWriter) -> None:
        self._kube = kube
        self._status = status
        self.secrets = SecretCache()  # the watches' copies (streams.py fills them)
        # resourceVersion of the Secret we last wrote, per resource: its watch event is ours.
        self._secret_versions: dict[str, str] = {}
        # A Secret read ahead by the worker while the finalizer PATCH was in flight (its
        # name, key and what the GET found), for this pass only (prefetch_secret).
        self._prefetched: dict[str, tuple[str, str, rc.SecretObject | None]] = {}

    def forget(self, uid: str) -> None:
        self._secret_versions.pop(uid, None)

    def reset(self) -> None:
        """A new term: what we wrote may have been overwritten; keep the watch's copies."""
        self._secret_versions.clear()

    # -------------------------------------------------------------------------- the Secret

    def wrote_secret(self, uid: str, resource_version: str) -> None:
        self._secret_versions[uid] = resource_version

    def wrote_secret_version(self, uid: str, resource_version: str | None) -> bool:
        return resource_version is not None and self._secret_versions.get(uid) == resource_version

    def secret_seen(self, body: Mapping[str, Any]) -> None:
        """A managed Secret as the watch showed it (listed, added or modified)."""
        self.secrets.seen(body)

    def secret_gone(self, body: Mapping[str, Any]) -> set[str]:
        """A managed Secret was deleted; returns the resources that were waiting for its
        name (SecretConflict)."""
        return self.secrets.gone(body)

    async def prefetch_secret(self, view: ResourceView) -> None:
        """Read the Secret the coming change pass would read first (a GET, never the cache),
        so that the read overlaps the finalizer PATCH instead of following it: one round
        trip less before a first create's POST. Kept only for that pass (`drop_prefetched`);
        a failed read is simply not kept (the pass reads again)."""
        try:
            spec = ClientSpec.model_validate(view.spec)
        except ValueError:
            return  # the pass reports it
        name, key = spec.secret_name(view.name), spec.secret.keys.client_secret
        if self._known_absent(view, name, self._status.current(view)):
            return  # nothing to read: the pass takes "absent" from the watches
        secret = await self._kube.get_secret(view.namespace, name, view.uid, key)
        self._prefetched[view.uid] = (name, key, secret)

    def drop_prefetched(self, uid: str) -> None:
        self._prefetched.pop(uid, None)

    def _known_absent(self, view: ResourceView, name: str, status: ClientStatus) -> bool:
        """A first create (no client recorded yet) whose Secret name neither watch knows.
        Only then: after a takeover, a pass of a recorded client could miss the Secret the
        last leader wrote a moment ago, and would issue a secret only to have its
        create-only write refused."""
        return status.client_id is None and self.secrets.known_absent(
            view.namespace, name, wrote_version=self._secret_versions.get(view.uid))

    async def secret(self, view: ResourceView, spec: ClientSpec, cause: Cause,
                     status: ClientStatus) -> rc.SecretObject | None:
        name, key = spec.secret_name(view.name), spec.secret.keys.client_secret
        prefetched = self._prefetched.pop(view.uid, None)
        if cause is Cause.CHANGE and prefetched is not None and prefetched[:2] == (name, key):
            metrics.observe_secret_read("api")
            return prefetched[2]
        if cause is not Cause.CHANGE:
            # Verification passes read the watch's copy; a change (ours to react to, or a
            # Secret edit that woke us) is read fresh.
            cached = self.secrets.get(view.namespace, name, view.uid, key,
                                      wrote_version=self._secret_versions.get(view.uid))
            if cached is not None:
                metrics.observe_secret_read("watch")
                return cached
        if self._known_absent(view, name, status):
            # Neither watch knows a Secret of that name (a first create, mostly): as fresh
            # as a GET that finds nothing, and a create-only write still guards the race.
            metrics.observe_secret_read("watch")
            return None
        metrics.observe_secret_read("api")
        return await self._kube.get_secret(view.namespace, name, view.uid, key)

    # ------------------------------------------------------------------ the remote client

    async def remote(self, admitted: Admitted, spec: ClientSpec, status: ClientStatus,
                     view: ResourceView, cause: Cause) -> tuple[bool, rc.RemoteClient | None]:
        """(looked up, the client or None for 404). Not looked up: nothing to compare."""
        if not rc.needs_remote(spec, status):
            return False, None
        remote, tenant = admitted.connection.remote, admitted.tenant_id
        if (cause is Cause.CHANGE and status.client_id is not None
                and view.generation != status.observed_generation):
            # A spec change: PUT what the spec says without reading first (one identity call;
            # a 404 means recreate, see Controller._admitted). The copy we last read or wrote
            # supplies the tags that are not ours; without one a v1 client is read first.
            known = remote.peek(tenant, admitted.client_id)
            if known is not None or admitted.connection.identity.api_version is not ApiVersion.V1:
                return False, known
        if cause is Cause.CHANGE or (status.client_id is None and not spec.observe_only):
            return True, await remote.get(tenant, admitted.client_id)
        return True, await remote.get_cached(tenant, admitted.client_id,
                                             since_start=cause is Cause.RESUME)

    async def read_secrets(self, admitted: Admitted, client_id: str) -> ReadSecrets:
        """The client's secrets (one list): their ids and expiries, the mark of its newest
        marked secret (whose the client says it is, on the unversioned form, which has no
        tags), and which resource issued that secret."""
        secrets = await admitted.connection.identity.list_secrets(admitted.tenant_id, client_id)
        pairs = [(s.id, s.description) for s in secrets]
        return ReadSecrets(
            tuple(ObservedSecret(id=s.id, expires_at=s.expiration)
                  for s in sorted(secrets, key=lambda s: s.id)),
            mark_from_secrets(pairs), issuer_from_secrets(pairs))


@dataclass(frozen=True)
class ReadSecrets:
    secrets: tuple[ObservedSecret, ...]
    mark: Mark | None
    issuer: str | None
