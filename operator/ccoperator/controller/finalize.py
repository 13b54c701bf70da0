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
from ..identity import IdentityError, NotFound, OutcomeUnknown, Transient
from ..kube.api import KubeApiError, KubeConflict
from ..reconcile import policy
from ..tenants.connections import Connection
from ..tenants.credentials import CredentialsProblem
from .gate import Gate
from .status import StatusWriter
from .view import ResourceView

log = logging.getLogger("ccoperator.controller")

FINALIZED_MEMORY = 10_000


class CannotDelete(Exception):
    """The remote client cannot be deleted now (its tenant object is gone or has no usable
    credentials); retried like an identity failure."""


class Finalizer:
    def __init__(self, gate: Gate, status: StatusWriter, forget: Callable[[str], None]) -> None:
        self._gate = gate
        self._status = status
        self._forget = forget
        # Resources whose finalizer ran: no reconcile may touch them again. Bounded: a loop
        # holding a stale view of a deleted resource is gone within seconds.
        self._finalized: OrderedDict[str, None] = OrderedDict()

    def finalized(self, uid: str) -> bool:
        return uid in self._finalized

    async def finalize(self, view: ResourceView) -> None:
        """Delete the remote client (Delete policy). Raises to be retried; never drops it."""
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
        target = await self._target(view, spec, status)
        if target is None:
            self._forget(view.uid)
            return
        tenant, client_id = target
        kept = self._kept(view.uid, tenant, client_id)
        if kept is not None:
            await self._keep(view, status, tenant, client_id, *kept)
            return
        connection = await self._delete(view, spec, status, tenant, client_id)
        connection.remote.forget(tenant, client_id)
        self._status.event(view, False, "Deleted",
                           f"Deleted client {client_id!r} from tenant {tenant!r}.")
        self._forget(view.uid)

    async def _target(self, view: ResourceView, spec: ClientSpec,
                      status: ClientStatus) -> tuple[str, str] | None:
        """(tenant, client id) to delete, or None: nothing to delete (Orphan, never made)."""
        if spec.deletion_policy is DeletionPolicy.ORPHAN:
            return None
        client_id, tenant = status.client_id, status.tenant_id
        if client_id is None and spec.client_id is None:
            # A uid-derived id is not recorded before its POST (reconcile/plan.py): a create
            # whose answer was lost left a client only this resource can own. Delete that id
            # (a 404 when it was never created).
            tenant = await self._gate.tenant_id_of(view.namespace, spec)
            client_id = spec.desired_client_id(view.uid) if tenant is not None else None
        return (tenant, client_id) if client_id is not None and tenant is not None else None

    def _kept(self, uid: str, tenant: str, client_id: str) -> tuple[Reason, str] | None:
        """Why deleting this resource must leave its remote client alone (None: it may go)."""
        if client_id in self._gate.registry.reserved_ids():
            return Reason.CLIENT_ID_RESERVED, "the operator authenticates with it"
        if not self._gate.owns(uid, tenant, client_id):
            return Reason.CLIENT_ID_TAKEN, "another ClientCredentialClient manages it"
        return None

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

    async def _delete(self, view: ResourceView, spec: ClientSpec, status: ClientStatus,
                      tenant: str, client_id: str) -> Connection:
        key = policy.tenant_key(spec.tenant_ref, view.namespace)
        connection = (self._gate.registry.cleanup_connection(key)
                      or await self._gate.registry.connection(key))
        try:
            if isinstance(connection, CredentialsProblem):
                raise CannotDelete(f"{key} cannot act: {connection.message}")
            await connection.identity.delete_client(tenant, client_id)
        except NotFound:
            pass  # client or tenant already gone: nothing left to delete
        except (Transient, OutcomeUnknown):
            raise
        except (IdentityError, CannotDelete) as exc:
            message = (f"Could not delete client {client_id!r} from tenant "
                       f"{tenant!r}: {exc}. Retrying; set "
                       "spec.deletionPolicy: Orphan to keep the remote client and let the "
                       "resource go.")
            with contextlib.suppress(KubeConflict):
                await self._status.write(view, status, False, Reason.DELETE_FAILED, message)
            raise
        assert not isinstance(connection, CredentialsProblem)
        return connection
