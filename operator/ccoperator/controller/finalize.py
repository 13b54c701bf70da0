"""Deletion: the finalizer's work. Under `deletionPolicy: Delete` the remote client goes with
the resource (404 is done); it deletes nothing it does not own, and says so when it keeps a
client (a warning event and the condition). Failures raise, to be retried with backoff: the
finalizer is never dropped while the client may still exist.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable

from ..api.clients import ClientSpec, ClientStatus, DeletionPolicy
from ..api.conditions import Reason
from ..api.marks import Cluster, Mark
from ..identity import (
    ApiVersion,
    ClientDto,
    IdentityError,
    NotFound,
    OutcomeUnknown,
    SecretCreate,
    Transient,
)
from ..kube.api import KubeApiError, KubeConflict
from ..reconcile import policy
from ..reconcile.model import RemoteClient
from ..tenants.connections import Connection
from ..tenants.credentials import CredentialsProblem
from ..tenants.marked import read_mark
from .gate import Gate
from .status import StatusWriter
from .view import ResourceView

log = logging.getLogger("ccoperator.controller")

FINALIZED_MEMORY = 10_000


class CannotDelete(Exception):
    """The remote client cannot be deleted now (its tenant object is gone or has no usable
    credentials); retried like an identity failure."""


class Finalizer:
    def __init__(self, gate: Gate, status: StatusWriter, forget: Callable[[str], None],
                 cluster: Cluster) -> None:
        self._gate = gate
        self._cluster = cluster
        self._status = status
        self._forget = forget
        # Resources whose finalizer ran: no reconcile may touch them again. Bounded: a loop
        # holding a stale view of a deleted resource is gone within seconds.
        self._finalized: OrderedDict[str, None] = OrderedDict()

    def finalized(self, uid: str) -> bool:
        return uid in self._finalized

    async def finalize(self, view: ResourceView) -> None:
        """Delete the remote client (Delete policy), or mark it released (Orphan). Raises to
        be retried; never drops it."""
        status = self._status.current(view)
        try:
            spec = ClientSpec.model_validate(view.spec)
        except ValueError:
            log.warning("%s/%s: unreadable spec at deletion; leaving any remote client",
                        view.namespace, view.name)
            self._forget(view.uid)
            return
        self._finalized[view.uid] = None
        while len(self._finalized) > FINALIZED_MEMORY:
            self._finalized.popitem(last=False)
        target = None if spec.observe_only else await self._target(view, spec, status)
        if target is None:  # nothing made remotely, Orphan without a client, or Observe
            self._forget(view.uid)
            return
        tenant, client_id = target
        kept = self._kept(view.uid, tenant, client_id)
        if kept is not None:
            await self._keep(view, status, tenant, client_id, *kept)
            return
        orphan = spec.deletion_policy is DeletionPolicy.ORPHAN
        try:
            connection = await self._connection(view, spec)
            read = await read_mark(connection, tenant, client_id)
            if read is not None and read[1] is not None and not self._ours(view, read[1]):
                await self._keep(view, status, tenant, client_id, Reason.OWNED_ELSEWHERE,
                                 "another ClientCredentialClient's mark is on it now (handed "
                                 "over)")
                return
            if orphan:
                if read is not None:
                    await self._release(view, spec, connection, tenant, read[0], status)
            else:
                await self._delete(view, connection, tenant, client_id)
        except (Transient, OutcomeUnknown):
            raise  # retried: the client's fate is still unknown
        except (IdentityError, CannotDelete) as exc:
            if not orphan:
                await self._failed(view, status, tenant, client_id, exc)
                raise
            # Keeping the client is what was asked; its release mark is a courtesy, never a
            # reason to hold the resource.
            log.warning("%s/%s: client %r kept; could not mark it released: %s",
                        view.namespace, view.name, client_id, exc)
        self._forget(view.uid)

    async def _target(self, view: ResourceView, spec: ClientSpec,
                      status: ClientStatus) -> tuple[str, str] | None:
        """(tenant, client id) this resource holds, or None: nothing remote to act on."""
        client_id, tenant = status.client_id, status.tenant_id
        if (client_id is None and spec.client_id is None
                and spec.deletion_policy is DeletionPolicy.DELETE):
            # A derived id is not recorded before its POST (reconcile/plan.py): a create
            # whose answer was lost left a client only this declaration can own. Delete that
            # id (a 404 when it was never created).
            tenant = await self._gate.tenant_id_of(view.namespace, spec)
            client_id = (spec.desired_client_id(self._cluster.key(view.namespace, view.name))
                         if tenant is not None else None)
        return (tenant, client_id) if client_id is not None and tenant is not None else None

    def _kept(self, uid: str, tenant: str, client_id: str) -> tuple[Reason, str] | None:
        """Why deleting this resource must leave its remote client alone (None: it may go)."""
        if client_id in self._gate.registry.reserved_ids():
            return Reason.CLIENT_ID_RESERVED, "the operator authenticates with it"
        if not self._gate.owns(uid, tenant, client_id):
            return Reason.CLIENT_ID_TAKEN, "another ClientCredentialClient manages it"
        return None

    def _ours(self, view: ResourceView, mark: Mark) -> bool:
        return mark.names(self._cluster.key(view.namespace, view.name),
                          self._cluster.aliases(view.namespace, view.name, view.uid))

    async def _keep(self, view: ResourceView, status: ClientStatus, tenant: str,
                    client_id: str, reason: Reason, why: str) -> None:
        """Never ours to delete, whatever this resource's status says; said out loud (a
        warning event and the condition), since the user asked for a deletion."""
        message = (f"Not deleting client {client_id!r} from tenant {tenant!r}: {why}. "
                   "The remote client is left as it is.")
        log.warning("%s/%s: %s", view.namespace, view.name, message)
        self._status.event(view, True, "DeletionSkipped", message)
        with contextlib.suppress(KubeConflict, KubeApiError):
            await self._status.write(view, status, False, reason, message, announce=False)
        self._forget(view.uid)

    async def _connection(self, view: ResourceView, spec: ClientSpec) -> Connection:
        key = policy.tenant_key(spec.tenant_ref, view.namespace)
        connection = (self._gate.registry.cleanup_connection(key)
                      or await self._gate.registry.connection(key))
        if isinstance(connection, CredentialsProblem):
            raise CannotDelete(f"{key} cannot act: {connection.message}")
        return connection

    async def _release(self, view: ResourceView, spec: ClientSpec, connection: Connection,
                       tenant: str, remote: RemoteClient, status: ClientStatus) -> None:
        """deletionPolicy: Orphan: the client stays, marked released (not an orphan; the
        same declaration takes it back if it returns)."""
        released = Mark(self._cluster.key(view.namespace, view.name), released=True)
        identity = connection.identity
        if identity.api_version is ApiVersion.V1:
            await identity.update_client(tenant, remote.client_id, ClientDto(
                client_id=remote.client_id, name=remote.name, role_ids=sorted(remote.role_ids),
                enabled=remote.enabled, tags=sorted({*remote.other_tags, released.tag()})))
        elif status.current_secret is not None:
            await identity.update_secret(tenant, remote.client_id, status.current_secret.id,
                                         SecretCreate(description=released.in_description(
                                             spec.secret_description(view.namespace, view.name))))
        connection.remote.forget(tenant, remote.client_id)

    async def _delete(self, view: ResourceView, connection: Connection, tenant: str,
                      client_id: str) -> None:
        with contextlib.suppress(NotFound):  # client or tenant already gone: nothing to delete
            await connection.identity.delete_client(tenant, client_id)
        connection.remote.forget(tenant, client_id)
        self._status.event(view, False, "Deleted",
                           f"Deleted client {client_id!r} from tenant {tenant!r}.")

    async def _failed(self, view: ResourceView, status: ClientStatus, tenant: str,
                      client_id: str, exc: Exception) -> None:
        message = (f"Could not delete client {client_id!r} from tenant "
                   f"{tenant!r}: {exc}. Retrying; set "
                   "spec.deletionPolicy: Orphan to keep the remote client and let the "
                   "resource go.")
        with contextlib.suppress(KubeConflict):
            await self._status.write(view, status, False, Reason.DELETE_FAILED, message)
