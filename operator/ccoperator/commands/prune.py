"""`ccoperator prune`: delete the clients a cluster that no longer exists left in a tenant.

Every client the operator creates or adopts carries its owner key, `<cluster>/<namespace>/
<name>` (api/marks.py). For a cluster that is gone, nobody will ever delete its clients: this
command lists the clients of one tenant whose mark names that cluster (tenants/marked.py),
shows what it will do, and deletes them (asking first on a terminal, unless --yes).

It acts as the operator would for that tenant: the tenant object is read through the current
kubeconfig and its credentials loaded as the operator loads them (tenants/credentials.py, with
the CCOPERATOR_* settings). It keeps:
- a client that a ClientCredentialClient of the current cluster records (status.clientId) or
  declares (spec.clientId): the current cluster manages it;
- the client it authenticates with, and the operator's own;
- a client marked released (deletionPolicy: Orphan), unless --include-released.
It refuses to run when the current cluster's resources carry owner keys of that cluster (it is
not gone), or when it cannot list them, unless --force.

It never writes to Kubernetes (the session's write guard refuses every write), and sends the
identity service only reads and the token request, plus, without --dry-run, one DELETE per
client (a fence on its HTTP client refuses anything else).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import TextIO

from ..api.marks import cluster_of
from ..identity import ClientNotFound, IdentityClient, IdentityError
from ..kube.api import KubeApi
from ..kube.http import KubeApiError
from ..settings import Settings
from ..tenants.marked import MarkedClient, marked_clients
from .common import held_clients, where
from .prune_plan import (
    Action,
    Guards,
    Options,
    PruneError,
    Result,
    Row,
    Scope,
    counts,
    decide,
    document,
    kube_problem,
    not_gone,
    plan,
    summary,
    table,
    with_result,
)
from .session import (
    Streams,
    Tenant,
    acting_ids,
    fence,
    identity_session,
    list_resources,
    read_only_kube,
    read_tenant,
    run,
)

__all__ = ["Streams", "fence", "main"]

log = logging.getLogger("ccoperator.commands.prune")


def main(options: Options, settings: Settings, streams: Streams | None = None) -> int:
    """Run the command: 0 done (or nothing to do), 1 refused, failed or not confirmed."""
    streams = streams or Streams()
    return run("prune", prune(options, settings, streams), settings, streams)


async def prune(options: Options, settings: Settings, streams: Streams) -> int:
    async with read_only_kube("prune", options.kubeconfig, options.context) as kube_http:
        kube = KubeApi(kube_http)
        tenant = await read_tenant(kube, options.tenant_object, settings)
        managed = await managed_here(kube, tenant.spec.tenant_id, options, streams.err)
    guards = Guards(managed, acting_ids(tenant, settings), options.include_released)
    async with identity_session("prune", settings, tenant,
                                allow_delete=not options.dry_run) as identity:
        return await _list_and_delete(identity, tenant, guards, options, streams)


async def managed_here(kube: KubeApi, tenant_id: str, options: Options,
                       err: TextIO) -> dict[str, str]:
    """client id -> namespace/name of every ClientCredentialClient of the current cluster that
    records it (status.clientId, in this tenant or before a tenant is recorded) or declares it
    (spec.clientId). Refuses when the cluster's resources carry the pruned cluster's name."""
    try:
        items = await list_resources(kube)
    except KubeApiError as exc:
        if exc.status != 403 or not options.force:
            raise kube_problem(
                "cannot list the current cluster's ClientCredentialClients, so cannot tell "
                "which clients it still manages (--force goes on without that check)",
                exc) from None
        print(f"ccoperator prune: warning: cannot list ClientCredentialClients ({exc}); going "
              "on without knowing which clients the current cluster manages (--force)",
              file=err)
        return {}
    managed = held_clients(items, tenant_id)
    claims = [where(item) for item in items
              if cluster_of(str((item.get("status") or {}).get("ownerKey") or ""))
              == options.cluster_name]
    if claims and not options.force:
        raise PruneError(f"{not_gone(options.cluster_name, claims)}. prune is for clusters that "
                         "no longer exist; a cluster's own orphans are its operator's "
                         "(spec.orphans). --force goes on (the clients those resources record "
                         "are kept anyway)")
    if claims:
        print(f"ccoperator prune: warning: {not_gone(options.cluster_name, claims)}; going on "
              "(--force)", file=err)
    return managed


async def find(identity: IdentityClient, tenant_id: str,
               cluster: str) -> tuple[list[MarkedClient], bool]:
    """The tenant's clients marked by `cluster`, and whether the listing was incomplete."""
    listing = await identity.list_clients(tenant_id)
    found = await marked_clients(identity, tenant_id, cluster, listing=listing.items)
    return found, listing.partial


async def _list_and_delete(identity: IdentityClient, tenant: Tenant, guards: Guards,
                           options: Options, streams: Streams) -> int:
    clients, incomplete = await find(identity, tenant.spec.tenant_id, options.cluster_name)
    rows = plan(clients, guards)
    scope = Scope(tenant.key, tenant.spec.tenant_id, tenant.credentials.identity_url,
                  str(tenant.credentials.api_version), options.cluster_name, options.dry_run,
                  incomplete)
    if incomplete:
        print("ccoperator prune: warning: the identity service could not read some clients "
              "of the tenant (a partial listing): they are not shown; run again", file=streams.err)
    as_json = options.output == "json"
    if not (as_json and options.dry_run):
        show(scope, rows, streams.err if as_json else streams.out)
    if not options.dry_run and any(row.action is Action.DELETE for row in rows):
        await confirm(rows, scope, options, streams)
        rows = await delete_all(identity, scope, rows, guards,
                                progress=None if as_json else streams.out)
    if as_json:
        print(json.dumps(document(scope, rows), indent=2), file=streams.out)
    else:
        print(summary(rows, dry_run=options.dry_run), file=streams.out)
    n = counts(rows)
    return 1 if n["failed"] or n["notAttempted"] else 0


def show(scope: Scope, rows: Sequence[Row], out: TextIO) -> None:
    print(scope.header(), file=out)
    print(table(rows) if rows else "  (none)", file=out)


async def confirm(rows: Sequence[Row], scope: Scope, options: Options, streams: Streams) -> None:
    """On a terminal, ask before deleting (unless --yes); elsewhere the listing was shown and
    the deletion goes on."""
    if options.yes or not streams.input.isatty():
        return
    n = sum(row.action is Action.DELETE for row in rows)
    print(f"Delete these {n} client(s) from tenant {scope.tenant_id}? Type 'yes' to go on: ",
          end="", file=streams.err, flush=True)
    answer = await asyncio.to_thread(streams.input.readline)
    if answer.strip().lower() not in ("y", "yes"):
        raise PruneError("not confirmed: nothing was deleted")


async def delete_all(identity: IdentityClient, scope: Scope, rows: Sequence[Row],
                     guards: Guards, *, progress: TextIO | None) -> list[Row]:
    """Delete each client marked DELETE, in order; the first failure stops the rest."""
    done: list[Row] = []
    failed = False
    for row in rows:
        if row.action is Action.KEEP:
            done.append(row)
            continue
        if failed:
            done.append(with_result(row, Result.NOT_ATTEMPTED))
            continue
        try:
            result = with_result(row, await delete_one(identity, scope, row, guards))
        except IdentityError as exc:
            result, failed = with_result(row, Result.FAILED, str(exc)), True
        done.append(result)
        if progress is not None:
            print(f"{row.client.client_id}: {result.result}"
                  + (f": {result.detail}" if result.detail else ""), file=progress)
    return done


async def delete_one(identity: IdentityClient, scope: Scope, row: Row, guards: Guards) -> Result:
    """Read the client's mark again (it may have been adopted since the listing), then
    delete it; a client already gone is fine."""
    tenant_id, client_id = scope.tenant_id, row.client.client_id
    try:
        current = await identity.get_client(tenant_id, client_id)
    except ClientNotFound:
        return Result.ALREADY_GONE
    again = await marked_clients(identity, tenant_id, scope.cluster_name, listing=[current])
    if not again or decide(again[0], guards).action is Action.KEEP:
        return Result.MARK_CHANGED
    try:
        await identity.delete_client(tenant_id, client_id)
    except ClientNotFound:
        return Result.ALREADY_GONE
    return Result.DELETED
