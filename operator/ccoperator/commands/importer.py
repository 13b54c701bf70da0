"""`ccoperator import`: ClientCredentialClient manifests for the clients a tenant already has.

For every client of the tenant object's tenant that no resource of the current cluster
manages or declares, that neither the tenant object nor the operator acts with, and that
carries no mark (api/marks.py: a declaration somewhere takes it back itself), or for the
`--id`s given, it prints a manifest that adopts it: `adopt: true`, `managementPolicy: Observe`
by default (read only, status.drift shows where the client differs), the client's own name,
roles and enabled flag. Roles the tenant object does not allow are kept and named on stderr.

It reads the tenant object and its credentials as the operator does (session.py), lists
the tenant's clients once (and on the unversioned form each candidate's secrets, where its
mark is) and writes nothing anywhere: the Kubernetes session refuses every write, the
identity client everything but reads and the token request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..api.clients import ManagementPolicy
from ..api.tenants import CLUSTER_KIND, TenantKey
from ..identity import ClientDto, IdentityClient
from ..kube.api import KubeApi
from ..kube.http import KubeApiError, segment
from ..settings import Settings
from ..tenants.marked import mark_of
from .common import CommandError, held_clients, kube_problem
from .import_manifests import (
    Skipped,
    manifest,
    render,
    resource_name,
    skip_reason,
    summary,
    warnings,
)
from .session import (
    Streams,
    Tenant,
    acting_ids,
    identity_session,
    list_resources,
    read_only_kube,
    read_tenant,
    run,
)


@dataclass(frozen=True)
class ImportOptions:
    tenant_object: TenantKey
    namespace: str  # of the manifests
    ids: tuple[str, ...] = ()
    management_policy: ManagementPolicy = ManagementPolicy.OBSERVE
    output: str = "yaml"  # or "json"
    kubeconfig: str | None = None
    context: str | None = None


def main(options: ImportOptions, settings: Settings, streams: Streams | None = None) -> int:
    """0 printed (perhaps nothing), 1 error."""
    streams = streams or Streams()
    return run("import", import_clients(options, settings, streams), settings, streams)


async def import_clients(options: ImportOptions, settings: Settings, streams: Streams) -> int:
    async with read_only_kube("import", options.kubeconfig, options.context) as kube_http:
        kube = KubeApi(kube_http)
        tenant = await read_tenant(kube, options.tenant_object, settings)
        try:
            items = await list_resources(kube)
        except KubeApiError as exc:
            raise kube_problem("cannot list the current cluster's ClientCredentialClients, so "
                               "cannot tell which clients it manages", exc) from None
        notes = await _namespace_notes(kube, tenant, options.namespace)
    held = held_clients(items, tenant.spec.tenant_id)
    taken = {str((i.get("metadata") or {}).get("name")) for i in items
             if (i.get("metadata") or {}).get("namespace") == options.namespace}
    async with identity_session("import", settings, tenant) as identity:
        free, skipped, partial = await candidates(identity, tenant, held,
                                                  acting_ids(tenant, settings), options.ids)
    if partial:
        notes.append("warning: the identity service could not read some clients of the tenant "
                     "(a partial listing): they are not shown; run again")
    manifests = []
    for client in free:
        name = resource_name(client, taken)
        manifests.append(manifest(client, tenant.key, options.namespace, name,
                                  options.management_policy))
        notes += [f"warning: {text}" for text in warnings(client, tenant.key, tenant.spec)]
    for line in [*summary(len(manifests), tenant.key, tenant.spec.tenant_id, skipped,
                          options.management_policy), *notes]:
        print(f"ccoperator import: {line}", file=streams.err)
    if manifests:
        print(render(manifests, options.output), file=streams.out,
              end="" if options.output == "yaml" else "\n")
    return 0


async def candidates(identity: IdentityClient, tenant: Tenant, held: Mapping[str, str],
                     reserved: frozenset[str],
                     ids: Sequence[str]) -> tuple[list[ClientDto], list[Skipped], bool]:
    """The clients to bring in (sorted by name), those skipped and why, and whether the
    listing was partial. Each `ids` entry must exist and be free (else CommandError)."""
    tenant_id = tenant.spec.tenant_id
    listing = await identity.list_clients(tenant_id)
    by_id = {client.client_id: client for client in listing.items}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise CommandError(f"no client {', '.join(unknown)} in tenant {tenant_id} "
                           f"({tenant.key})")
    chosen = [by_id[i] for i in dict.fromkeys(ids)] if ids else list(listing.items)
    free: list[ClientDto] = []
    skipped: list[Skipped] = []
    for client in sorted(chosen, key=lambda c: (c.name.lower(), c.client_id)):
        why = skip_reason(client.client_id, None, held, reserved)
        if why is None:
            why = skip_reason(client.client_id, await mark_of(identity, tenant_id, client),
                              held, reserved)
        if why is None:
            free.append(client)
        else:
            skipped.append(Skipped(client.client_id, why))
    if ids and skipped:
        raise CommandError("cannot bring in " + "; ".join(f"client {s.client_id}: {s.why}"
                                                          for s in skipped))
    return free, skipped, listing.partial


async def _namespace_notes(kube: KubeApi, tenant: Tenant, namespace: str) -> list[str]:
    """What the operator will refuse about every manifest: a tenant object that does not
    allow adoption, or does not select the namespace."""
    notes = []
    if tenant.spec.adoption.value != "Allow":
        notes.append(f"warning: {tenant.key} has adoption: {tenant.spec.adoption.value}: the "
                     "operator refuses these manifests (PolicyDenied) until it allows adoption")
    if tenant.key.kind == CLUSTER_KIND:
        labels = await _labels(kube, namespace)
        selector = tenant.spec.namespace_selector
        if labels is not None and (selector is None or not selector.matches(labels)):
            notes.append(f"warning: {tenant.key} does not select namespace {namespace}: the "
                         "operator refuses these manifests there (TenantRefNotFound)")
    return notes


async def _labels(kube: KubeApi, namespace: str) -> dict[str, str] | None:
    """The namespace's labels (None: it cannot be read, or does not exist yet)."""
    try:
        body: dict[str, Any] | None = await kube.get_object(
            f"/api/v1/namespaces/{segment(namespace)}")
    except KubeApiError:
        return None
    if body is None:
        return None
    return {str(k): str(v) for k, v in ((body.get("metadata") or {}).get("labels") or {}).items()}


__all__ = ["ImportOptions", "import_clients", "main"]
