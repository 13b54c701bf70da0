"""`ccoperator plan -f PATH`: what the operator would do now with each ClientCredentialClient
of the manifests, against the live cluster and identity service, without doing any of it.

It assembles, read-only, what the operator has at start-up (assembly.py, as `app.assemble`
does): the tenant objects, namespaces and credentials (`TenantRegistry.prime`), a claim index
from one LIST of every ClientCredentialClient, the gate and the controller. Each manifest goes
through a server-side dry run first (schema, CEL rules and admission policies refuse it there
as they would at apply; the answer is the object as it would be stored, defaults filled in),
then `Controller.preview` decides with the operator's own gate, reads and decision.

It writes nothing: the Kubernetes session refuses every write but dry runs (dryRun=All), and
the identity clients refuse everything but reads and the token request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..api.clients import GROUP, PLURAL, VERSION
from ..api.marks import Cluster
from ..api.tenants import NAMESPACED_KIND
from ..assembly import Core, build_core, cluster_identity
from ..controller.view import ResourceView, view_of
from ..identity import IdentityClient, IdentityConfig, IdentityError, Transient, Unauthorized
from ..kube.api import KubeApi
from ..kube.http import KubeApiError, KubeRejected, segment
from ..settings import Settings
from ..tenants.checker import PROBE_CLIENT_ID
from ..tenants.connections import Connection
from .common import CommandError, kube_problem, where
from .plan_files import Loaded, Manifest, load
from .plan_report import Row, document, exit_status, pruned, rejected, summary, table
from .session import (
    RESOURCES,
    Streams,
    context_namespace,
    fenced_identity,
    list_resources,
    read_only_kube,
    run,
)

# API server refusals of a manifest (400 bad request, 403 RBAC or an admission policy, 422
# schema or CEL): shown as `refused`; any other failure stops the plan (exit 1).
_REFUSALS = (400, 403, 422)


@dataclass(frozen=True)
class PlanOptions:
    files: tuple[str, ...]
    prune: bool = False
    output: str = "table"  # or "json"
    namespace: str | None = None  # for manifests without one
    cluster_name: str | None = None
    kubeconfig: str | None = None
    context: str | None = None


def main(options: PlanOptions, settings: Settings, streams: Streams | None = None) -> int:
    """0 nothing would change, 2 something would (or would be refused), 1 error."""
    streams = streams or Streams()
    return run("plan", plan(options, settings, streams), settings, streams)


async def plan(options: PlanOptions, settings: Settings, streams: Streams) -> int:
    namespace = (options.namespace or context_namespace(options.kubeconfig, options.context)
                 or "default")
    loaded = load(options.files, streams.input, namespace)
    watched = set(settings.namespaces)
    loaded.notes += [f"the operator watches only {', '.join(sorted(watched))} "
                     f"(CCOPERATOR_NAMESPACES): nothing happens in {ns} whatever the plan says"
                     for ns in loaded.namespaces if watched and ns not in watched]
    for note in loaded.notes:
        print(f"ccoperator plan: note: {note}", file=streams.err)
    async with read_only_kube("plan", options.kubeconfig, options.context,
                              dry_run=True) as kube_http:
        kube = KubeApi(kube_http)
        cluster = await _cluster(kube, options.cluster_name or settings.cluster_name)
        async with planner(settings, kube, cluster) as core:
            items = await prime(core, kube, loaded.namespaces, streams)
            rows = [await preview_one(core, kube, manifest) for manifest in loaded.manifests]
    if options.prune:
        rows += prune_rows(items, loaded)
    if options.output == "json":
        print(json.dumps(document(rows, cluster_name=cluster.name, notes=loaded.notes),
                         indent=2), file=streams.out)
    else:
        if rows:
            print(table(rows), file=streams.out)
        print(summary(rows), file=streams.out)
    return exit_status(rows)


async def _cluster(kube: KubeApi, configured: str | None) -> Cluster:
    try:
        return await cluster_identity(kube, configured)
    except KubeApiError as exc:
        raise kube_problem("cannot read the kube-system namespace, whose uid names the cluster "
                           "by default (--cluster-name / CCOPERATOR_CLUSTER_NAME)", exc) from None
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None


def _no_events(view: ResourceView, *, warning: bool, reason: str, message: str) -> None:
    """A plan posts no event."""


@contextlib.asynccontextmanager
async def planner(settings: Settings, kube: KubeApi, cluster: Cluster) -> AsyncIterator[Core]:
    """The operator's parts (assembly.build_core), with identity clients that only read."""
    def new_identity(config: IdentityConfig, on_proved: Callable[[], None]) -> IdentityClient:
        return fenced_identity("plan", config, on_proved=on_proved)

    core = build_core(settings, kube, cluster, events=_no_events, new_identity=new_identity)
    try:
        yield core
    finally:
        await core.pool.aclose()


async def prime(core: Core, kube: KubeApi, namespaces: Sequence[str],
                streams: Streams) -> list[dict[str, Any]]:
    """What the operator lists at start-up: tenant objects, namespaces and credentials, and
    every ClientCredentialClient into the claim index (their status says who holds which
    client). Returns the resources listed."""
    if not namespaces:
        return []
    try:
        await core.registry.prime(namespaces)
        items = await _resources(kube, namespaces, streams)
    except KubeApiError as exc:
        raise kube_problem("cannot read what the operator reads at start-up (tenant objects, "
                           "namespaces, ClientCredentialClients)", exc) from None
    for item in items:
        core.gate.observe_resource(item)
    await _prove(core, namespaces, streams)
    return items


async def _resources(kube: KubeApi, namespaces: Sequence[str],
                     streams: Streams) -> list[dict[str, Any]]:
    try:
        return await list_resources(kube)
    except KubeApiError as exc:
        if exc.status != 403:
            raise
    print(f"ccoperator plan: warning: cannot list ClientCredentialClients of every namespace "
          f"(forbidden): the clients held by resources outside {', '.join(namespaces)} are "
          "not known to this plan (ClientIdTaken may be missed)", file=streams.err)
    items: list[dict[str, Any]] = []
    for namespace in namespaces:
        items += await list_resources(kube, _collection(namespace))
    return items


async def _prove(core: Core, namespaces: Sequence[str], streams: Streams) -> None:
    """Load every tenant object's credentials as the operator does, and let those of the
    IdentityTenants in the manifests' namespaces obtain a token, as the operator's tenant
    check does: proved, their client ids are reserved (TenantRegistry.reserved_ids)."""
    for key in core.registry.tenant_keys():
        try:
            connection = await core.registry.connection(key)
        except KubeApiError as exc:
            print(f"ccoperator plan: warning: cannot read the credentials of {key} ({exc}): "
                  "the client id they hold is not treated as reserved", file=streams.err)
            continue
        obj = core.registry.get(key)
        if (isinstance(connection, Connection) and key.kind == NAMESPACED_KIND
                and key.namespace in namespaces and obj is not None and obj.spec is not None):
            with contextlib.suppress(IdentityError):
                await connection.identity.get_client(obj.spec.tenant_id, PROBE_CLIENT_ID)


def _collection(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{segment(namespace)}/{PLURAL}"


async def preview_one(core: Core, kube: KubeApi, manifest: Manifest) -> Row:
    """Dry-run the manifest, then ask the controller what a pass would do with it."""
    namespace, name = manifest.namespace, manifest.name
    path = f"{_collection(namespace)}/{segment(name)}"
    try:
        live = await kube.get_object(path)
        stored = await (kube.dry_run("POST", _collection(namespace), manifest.body)
                        if live is None else kube.dry_run("PUT", path, replacing(live, manifest)))
    except KubeRejected as exc:
        if exc.status in _REFUSALS:
            return rejected(namespace, name, exc.kind_reason, exc.message)
        if exc.status == 404:
            raise CommandError(f"cannot plan {namespace}/{name}: {exc.message} (a namespace "
                               "must exist, and the CRDs be installed, to dry-run a resource "
                               "into it)") from None
        raise kube_problem(f"cannot plan {namespace}/{name}", exc) from None
    except KubeApiError as exc:
        raise kube_problem(f"cannot plan {namespace}/{name}", exc) from None
    if live is not None and (live.get("metadata") or {}).get("deletionTimestamp"):
        return Row(namespace, name, "none", (live.get("status") or {}).get("clientId"),
                   message="being deleted: the operator only finalizes it")
    view = planned_view(stored, live, manifest)
    try:
        seen = await core.controller.preview(view)
    except KubeApiError as exc:
        raise kube_problem(f"cannot plan {namespace}/{name}", exc) from None
    except IdentityError as exc:
        raise CommandError(f"cannot plan {namespace}/{name}: {_identity_failure(exc)}") from None
    except RuntimeError as exc:  # a fence refused a write: never expected, always loud
        raise CommandError(f"cannot plan {namespace}/{name}: {exc}") from None
    return Row.of(namespace, name, seen)


def replacing(live: dict[str, Any], manifest: Manifest) -> dict[str, Any]:
    """The live object with the manifest's spec, labels and annotations (as an apply of the
    whole manifest leaves it), guarded by the live resourceVersion."""
    meta = {k: v for k, v in (live.get("metadata") or {}).items() if k != "managedFields"}
    wanted = manifest.body.get("metadata") or {}
    for field in ("labels", "annotations"):
        meta[field] = {**(meta.get(field) or {}), **(wanted.get(field) or {})}
    return {"apiVersion": live.get("apiVersion"), "kind": live.get("kind"), "metadata": meta,
            "spec": manifest.body.get("spec") or {}}


def planned_view(stored: dict[str, Any], live: dict[str, Any] | None,
                 manifest: Manifest) -> ResourceView:
    """The resource as the operator's next pass would see it: the dry run's answer (the
    manifest's spec with defaults, the generation it would have, the live uid, finalizers,
    annotations and status); for a new resource no status, and the dry run's uid or a
    placeholder (the default client id derives from the owner key, not the uid)."""
    view = view_of(stored)
    if live is None:
        view = dataclasses.replace(view, status={}, resource_version=None)
    if not view.uid:
        view = dataclasses.replace(view, uid=f"plan:{manifest.namespace}/{manifest.name}")
    return view


def prune_rows(items: Sequence[dict[str, Any]], loaded: Loaded) -> list[Row]:
    """The resources of the manifests' namespaces that the manifests no longer contain."""
    declared = {f"{m.namespace}/{m.name}" for m in loaded.manifests}
    namespaces = set(loaded.namespaces)
    return [pruned(item) for item in sorted(items, key=where)
            if (item.get("metadata") or {}).get("namespace") in namespaces
            and where(item) not in declared
            and not (item.get("metadata") or {}).get("deletionTimestamp")]


def _identity_failure(exc: IdentityError) -> str:
    if isinstance(exc, Transient):
        return f"the identity service did not answer ({exc})"
    if isinstance(exc, Unauthorized):
        return f"the identity service refused the tenant object's credentials ({exc})"
    return f"the identity service answered with an error ({exc})"


__all__ = ["RESOURCES", "PlanOptions", "main", "plan"]
