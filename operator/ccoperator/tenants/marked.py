"""Which clients of a tenant carry a cluster's mark (api/marks.py): for the orphan scan,
`ccoperator prune` and `ccoperator import`; and one client's mark read fresh, before it is
deleted (the finalizer, the orphan scan).

On the v1 form the tenant's paged list shows every client's tags: one list answers. On the
unversioned form a client's mark is in its secrets' descriptions, so each candidate costs one
list of its secrets; `candidate` says which clients are worth that (the orphan scan asks only
for ids of the form this cluster derives; prune asks for every client).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..api.marks import Mark, cluster_of, mark_from_secrets, mark_from_tags
from ..identity import ApiVersion, ClientDto, ClientNotFound, IdentityClient, NotFound
from ..reconcile.model import RemoteClient
from .connections import Connection


@dataclass(frozen=True)
class MarkedClient:
    client_id: str
    name: str
    mark: Mark


async def marked_clients(
    identity: IdentityClient,
    tenant_id: str,
    cluster: str,
    *,
    candidate: Callable[[str], bool] = lambda client_id: True,
    listing: Iterable[ClientDto] | None = None,
) -> list[MarkedClient]:
    """The clients of `tenant_id` whose mark names `cluster` (owner or released), sorted by
    client id. `listing`: the tenant's clients if a full list was just read (saves the list)."""
    clients = list(listing) if listing is not None else (
        await identity.list_clients(tenant_id)).items
    found: list[MarkedClient] = []
    for client in clients:
        mark = await _mark_of(identity, tenant_id, client, candidate)
        if mark is not None and cluster_of(mark.owner) == cluster:
            found.append(MarkedClient(client.client_id, client.name, mark))
    return sorted(found, key=lambda c: c.client_id)


async def mark_of(identity: IdentityClient, tenant_id: str, client: ClientDto) -> Mark | None:
    """The client's mark, whoever's it is: its tags (v1), or the newest marked secret's
    description (unversioned: one list of its secrets)."""
    return await _mark_of(identity, tenant_id, client, lambda client_id: True)


async def _mark_of(identity: IdentityClient, tenant_id: str, client: ClientDto,
                   candidate: Callable[[str], bool]) -> Mark | None:
    if identity.api_version is ApiVersion.V1:
        return mark_from_tags(client.tags)
    if not candidate(client.client_id):
        return None
    try:
        secrets = await identity.list_secrets(tenant_id, client.client_id)
    except ClientNotFound:
        return None  # deleted since the list
    return mark_from_secrets((s.id, s.description) for s in secrets)


async def read_mark(connection: Connection, tenant_id: str,
                    client_id: str) -> tuple[RemoteClient, Mark | None] | None:
    """One client and whose it says it is, read fresh (None: it is gone). v1: the client
    with its tags; unversioned: its secrets' descriptions (and the client as last known)."""
    if connection.identity.api_version is ApiVersion.V1:
        found = await connection.remote.get(tenant_id, client_id)
        return (found, found.mark) if found is not None else None
    try:
        secrets = await connection.identity.list_secrets(tenant_id, client_id)
    except NotFound:
        return None
    known = (connection.remote.peek(tenant_id, client_id)
             or RemoteClient(client_id, "", frozenset(), True))
    return known, mark_from_secrets((s.id, s.description) for s in secrets)
