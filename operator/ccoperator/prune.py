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
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from .api.clients import GROUP, PLURAL, VERSION
from .api.marks import cluster_of
from .api.tenants import TenantKey, TenantSpec
from .identity import ClientNotFound, IdentityClient, IdentityConfig, IdentityError
from .identity.paths import DEFAULT_TOKEN_PATH
from .kube.api import KubeApi
from .kube.http import KubeApiError, connect
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
    identity_problem,
    kube_problem,
    not_gone,
    plan,
    summary,
    table,
    with_result,
)
from .settings import Settings
from .tenants import credentials as creds
from .tenants.marked import MarkedClient, marked_clients
from .tenants.registry import tenant_object

log = logging.getLogger("ccoperator.prune")


@dataclass
class Streams:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    input: TextIO = field(default_factory=lambda: sys.stdin)


@dataclass(frozen=True)
class Tenant:
    key: TenantKey
    spec: TenantSpec
    credentials: creds.Credentials


def main(options: Options, settings: Settings, streams: Streams | None = None) -> int:
    """Run the command: 0 done (or nothing to do), 1 refused, failed or not confirmed."""
    streams = streams or Streams()
    logging.basicConfig(stream=streams.err, format="ccoperator prune: %(levelname)s: %(message)s",
                        level=logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING)
    try:
        return asyncio.run(prune(options, settings, streams))
    except PruneError as exc:
        print(f"ccoperator prune: {exc}", file=streams.err)
        return 1
    except KeyboardInterrupt:
        print("ccoperator prune: interrupted", file=streams.err)
        return 130


async def prune(options: Options, settings: Settings, streams: Streams) -> int:
    configuration = kube_configuration(options.kubeconfig, options.context)
    kube_http = connect(configuration)
    kube_http.write_guard = _no_kubernetes_writes
    try:
        kube = KubeApi(kube_http)
        tenant = await read_tenant(kube, options.tenant_object, settings)
        managed = await managed_here(kube, tenant.spec.tenant_id, options, streams.err)
    finally:
        await kube_http.close()
    guards = Guards(managed, acting_ids(tenant, settings), options.include_released)
    async with identity_session(settings, tenant.credentials,
                                allow_delete=not options.dry_run) as identity:
        try:
            return await _list_and_delete(identity, tenant, guards, options, streams)
        except IdentityError as exc:
            raise identity_problem(exc, tenant.key, tenant.credentials.client_id,
                                   tenant.credentials.identity_url,
                                   tenant.spec.tenant_id) from None


def _no_kubernetes_writes() -> None:
    raise RuntimeError("ccoperator prune never writes to Kubernetes")


def kube_configuration(kubeconfig: str | None, context: str | None) -> Any:
    """The kubeconfig (`--kubeconfig`, else $KUBECONFIG or ~/.kube/config; `--context`),
    else, in a pod, its service account. Only the settings come from the official client."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_kube_config(config_file=kubeconfig, context=context,  # type: ignore[no-untyped-call]
                                    client_configuration=configuration)
        return configuration
    except (k8s_config.ConfigException, OSError) as exc:
        if kubeconfig is not None or context is not None:
            raise PruneError(f"cannot load the kubeconfig: {exc}") from None
        problem = exc
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException:
        raise PruneError(f"no kubeconfig ({problem}), and not in a pod: set KUBECONFIG or "
                         "--kubeconfig") from None
    return configuration


async def read_tenant(kube: KubeApi, key: TenantKey, settings: Settings) -> Tenant:
    """The tenant object and the credentials it acts with, as the operator loads them."""
    try:
        body = await kube.get_object(key.status_path().removesuffix("/status"))
    except KubeApiError as exc:
        raise kube_problem(f"cannot read {key}", exc) from None
    if body is None:
        raise PruneError(f"{key} not found in the current cluster (kubeconfig)")
    obj = tenant_object(key.kind, body)
    if obj.spec is None:
        raise PruneError(f"{key}: its spec cannot be read ({obj.spec_error})")
    try:
        loaded = await creds.load(kube, key, obj.spec, default_url=settings.identity_url,
                                  own=_own_credentials(settings),
                                  operator_namespace=settings.namespace)
    except KubeApiError as exc:
        raise kube_problem(f"cannot read the credentials Secret of {key}", exc) from None
    if isinstance(loaded, creds.CredentialsProblem):
        hint = (" (--operator-namespace / CCOPERATOR_NAMESPACE: the operator's namespace)"
                if "CCOPERATOR_NAMESPACE" in loaded.message else "")
        raise PruneError(f"{key}: {loaded.message}{hint}")
    return Tenant(key, obj.spec, loaded)


def _own_credentials(settings: Settings) -> Callable[[], creds.Credentials | None]:
    def read() -> creds.Credentials | None:
        if not settings.has_own_credentials:
            return None
        try:
            return creds.Credentials(settings.identity_url or "", settings.resolved_client_id(),
                                     settings.resolved_client_secret())
        except OSError as exc:
            raise PruneError(f"cannot read the operator's own credentials: {exc}") from None

    return read


def acting_ids(tenant: Tenant, settings: Settings) -> frozenset[str]:
    """The client this command acts with, and the operator's own: never pruned."""
    ids = {tenant.credentials.client_id}
    with contextlib.suppress(OSError, PruneError):
        own = _own_credentials(settings)()
        if own is not None:
            ids.add(own.client_id)
    return frozenset(ids)


async def managed_here(kube: KubeApi, tenant_id: str, options: Options,
                       err: TextIO) -> dict[str, str]:
    """client id -> namespace/name of every ClientCredentialClient of the current cluster that
    records it (status.clientId, in this tenant or before a tenant is recorded) or declares it
    (spec.clientId). Refuses when the cluster's resources carry the pruned cluster's name."""
    try:
        items = await kube.list_objects(f"/apis/{GROUP}/{VERSION}/{PLURAL}")
    except KubeApiError as exc:
        if exc.status == 404:  # the CRD is not installed: nothing here manages a client
            return {}
        if exc.status != 403 or not options.force:
            raise kube_problem(
                "cannot list the current cluster's ClientCredentialClients, so cannot tell "
                "which clients it still manages (--force goes on without that check)",
                exc) from None
        print(f"ccoperator prune: warning: cannot list ClientCredentialClients ({exc}); going "
              "on without knowing which clients the current cluster manages (--force)",
              file=err)
        return {}
    managed: dict[str, str] = {}
    claims: list[str] = []
    for item in items:
        meta, spec, status = (item.get(k) or {} for k in ("metadata", "spec", "status"))
        where = f"{meta.get('namespace')}/{meta.get('name')}"
        if status.get("clientId") and status.get("tenantId") in (None, "", tenant_id):
            managed[str(status["clientId"])] = where
        if spec.get("clientId"):
            managed.setdefault(str(spec["clientId"]), where)
        if cluster_of(str(status.get("ownerKey") or "")) == options.cluster_name:
            claims.append(where)
    if claims and not options.force:
        raise PruneError(f"{not_gone(options.cluster_name, claims)}. prune is for clusters that "
                         "no longer exist; a cluster's own orphans are its operator's "
                         "(spec.orphans). --force goes on (the clients those resources record "
                         "are kept anyway)")
    if claims:
        print(f"ccoperator prune: warning: {not_gone(options.cluster_name, claims)}; going on "
              "(--force)", file=err)
    return managed


def identity_config(settings: Settings, credentials: creds.Credentials) -> IdentityConfig:
    return IdentityConfig(
        base_url=credentials.identity_url, api_version=credentials.api_version,
        client_id=credentials.client_id, client_secret=credentials.client_secret,
        # The configured token endpoint belongs to the default service; others discover.
        token_url=settings.token_url if credentials.identity_url == settings.identity_url
        else None,
        read_timeout=settings.identity_timeout, max_retries=settings.identity_max_retries,
        max_concurrency=4, max_connections=4,
    )


@contextlib.asynccontextmanager
async def identity_session(settings: Settings, credentials: creds.Credentials, *,
                           allow_delete: bool) -> AsyncIterator[IdentityClient]:
    config = identity_config(settings, credentials)
    http = config.build_http()
    identity = IdentityClient(config, http=http)
    http.event_hooks = {"request": [fence(identity, config.base_url, allow_delete=allow_delete)]}
    try:
        yield identity
    finally:
        await identity.aclose()
        await http.aclose()


def fence(identity: IdentityClient, base_url: str, *,
          allow_delete: bool) -> Callable[[httpx.Request], Awaitable[None]]:
    """A request hook that lets out reads, the token request and (unless a dry run) DELETEs,
    and refuses anything else before it is sent: prune cannot write by mistake."""
    default_token = str(httpx.URL(base_url.rstrip("/") + DEFAULT_TOKEN_PATH))

    async def check(request: httpx.Request) -> None:
        if request.method == "GET" or (request.method == "DELETE" and allow_delete):
            return
        token_urls = {default_token, str(httpx.URL(identity.token_url or default_token))}
        if request.method == "POST" and str(request.url.copy_with(query=None)) in token_urls:
            return
        raise RuntimeError(f"ccoperator prune refused to send {request.method} "
                           f"{request.url.path}: it only reads"
                           + (" and deletes clients" if allow_delete else " (dry run)"))

    return check


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
