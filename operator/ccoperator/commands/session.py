"""The read-only session of `ccoperator prune`, `plan` and `import`: the cluster of the current
kubeconfig behind a write guard, a tenant object and the credentials it acts with (loaded as the
operator loads them), and identity clients behind a fence that lets out only reads and the
token request (and, for prune without --dry-run, DELETEs).

The guards fail loudly before anything is sent: a command cannot write by mistake. The one
Kubernetes write `plan` sends is a server-side dry run (`dryRun=All`), which stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

import httpx
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from ..api.clients import GROUP, PLURAL, VERSION
from ..api.tenants import TenantKey, TenantSpec
from ..assembly import identity_config
from ..identity import IdentityClient, IdentityConfig, IdentityError
from ..identity.paths import DEFAULT_TOKEN_PATH
from ..kube.api import KubeApi
from ..kube.http import KubeApiError, KubeHttp, connect
from ..settings import Settings
from ..tenants import credentials as creds
from ..tenants.registry import tenant_object
from .common import CommandError, identity_problem, kube_problem

RESOURCES = f"/apis/{GROUP}/{VERSION}/{PLURAL}"


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


def run(command: str, work: Coroutine[Any, Any, int], settings: Settings,
        streams: Streams) -> int:
    """Run a command's coroutine: its exit status, 1 for a CommandError (its message on
    stderr), 130 when interrupted."""
    logging.basicConfig(stream=streams.err, format=f"ccoperator {command}: %(levelname)s: "
                        "%(message)s",
                        level=logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING)
    try:
        return asyncio.run(work)
    except CommandError as exc:
        print(f"ccoperator {command}: {exc}", file=streams.err)
        return 1
    except KeyboardInterrupt:
        print(f"ccoperator {command}: interrupted", file=streams.err)
        return 130


# ---------------------------------------------------------------------------------- Kubernetes

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
            raise CommandError(f"cannot load the kubeconfig: {exc}") from None
        problem = exc
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException:
        raise CommandError(f"no kubeconfig ({problem}), and not in a pod: set KUBECONFIG or "
                           "--kubeconfig") from None
    return configuration


def context_namespace(kubeconfig: str | None, context: str | None) -> str | None:
    """The namespace of the kubeconfig's context (kubectl's default for manifests without
    one), if it names one."""
    with contextlib.suppress(k8s_config.ConfigException, OSError, KeyError, TypeError):
        contexts, current = k8s_config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        chosen = next((c for c in contexts if c.get("name") == context), None) if context \
            else current
        namespace = ((chosen or {}).get("context") or {}).get("namespace")
        return str(namespace) if namespace else None
    return None


def write_refusal(command: str, *, dry_run: bool) -> Callable[[str, str], None]:
    """The Kubernetes write filter of a read-only command: every write is refused before it
    is sent, except (`dry_run`) requests that carry dryRun=All."""
    def refuse(method: str, path: str) -> None:
        if dry_run and parse_qs(urlsplit(path).query).get("dryRun") == ["All"]:
            return
        raise RuntimeError(f"ccoperator {command} never writes to Kubernetes (refused to send "
                           f"{method} {urlsplit(path).path})")

    return refuse


@contextlib.asynccontextmanager
async def read_only_kube(command: str, kubeconfig: str | None, context: str | None, *,
                         dry_run: bool = False) -> AsyncIterator[KubeHttp]:
    kube_http = connect(kube_configuration(kubeconfig, context))
    kube_http.write_filter = write_refusal(command, dry_run=dry_run)
    try:
        yield kube_http
    finally:
        await kube_http.close()


async def read_tenant(kube: KubeApi, key: TenantKey, settings: Settings) -> Tenant:
    """The tenant object and the credentials it acts with, as the operator loads them."""
    try:
        body = await kube.get_object(key.status_path().removesuffix("/status"))
    except KubeApiError as exc:
        raise kube_problem(f"cannot read {key}", exc) from None
    if body is None:
        raise CommandError(f"{key} not found in the current cluster (kubeconfig)")
    obj = tenant_object(key.kind, body)
    if obj.spec is None:
        raise CommandError(f"{key}: its spec cannot be read ({obj.spec_error})")
    try:
        loaded = await creds.load(kube, key, obj.spec, default_url=settings.identity_url,
                                  own=own_credentials(settings),
                                  operator_namespace=settings.namespace)
    except KubeApiError as exc:
        raise kube_problem(f"cannot read the credentials Secret of {key}", exc) from None
    if isinstance(loaded, creds.CredentialsProblem):
        hint = (" (--operator-namespace / CCOPERATOR_NAMESPACE: the operator's namespace)"
                if "CCOPERATOR_NAMESPACE" in loaded.message else "")
        raise CommandError(f"{key}: {loaded.message}{hint}")
    return Tenant(key, obj.spec, loaded)


def own_credentials(settings: Settings) -> Callable[[], creds.Credentials | None]:
    def read() -> creds.Credentials | None:
        if not settings.has_own_credentials:
            return None
        try:
            return creds.Credentials(settings.identity_url or "", settings.resolved_client_id(),
                                     settings.resolved_client_secret())
        except OSError as exc:
            raise CommandError(f"cannot read the operator's own credentials: {exc}") from None

    return read


def acting_ids(tenant: Tenant, settings: Settings) -> frozenset[str]:
    """The client the command acts with, and the operator's own: never touched."""
    ids = {tenant.credentials.client_id}
    with contextlib.suppress(OSError, CommandError):
        own = own_credentials(settings)()
        if own is not None:
            ids.add(own.client_id)
    return frozenset(ids)


async def list_resources(kube: KubeApi, path: str = RESOURCES) -> list[dict[str, Any]]:
    """Every ClientCredentialClient at `path` (cluster-wide by default); none when the CRD is
    not installed. Other failures raise KubeApiError."""
    try:
        return await kube.list_objects(path)
    except KubeApiError as exc:
        if exc.status == 404:
            return []
        raise


# ------------------------------------------------------------------------------- identity

@contextlib.asynccontextmanager
async def identity_session(command: str, settings: Settings, tenant: Tenant, *,
                           allow_delete: bool = False) -> AsyncIterator[IdentityClient]:
    """The fenced identity client of the tenant object's credentials; an IdentityError in
    the block becomes a CommandError that names the tenant object, its client and service."""
    credentials = tenant.credentials
    identity = fenced_identity(command, identity_config(settings, credentials),
                               allow_delete=allow_delete)
    try:
        yield identity
    except IdentityError as exc:
        raise identity_problem(exc, tenant.key, credentials.client_id,
                               credentials.identity_url, tenant.spec.tenant_id) from None
    finally:
        await identity.aclose()


def fenced_identity(command: str, config: IdentityConfig, *, allow_delete: bool = False,
                    on_proved: Callable[[], None] | None = None) -> IdentityClient:
    """An identity client whose HTTP client refuses every write (but DELETEs when
    `allow_delete`) before it is sent. It owns and closes that HTTP client."""
    identity = IdentityClient(config, on_proved=on_proved)
    identity._http.event_hooks = {"request": [  # the client it built
        fence(identity, config.base_url, command=command, allow_delete=allow_delete)]}
    return identity


def fence(identity: IdentityClient, base_url: str, *, command: str = "prune",
          allow_delete: bool = False) -> Callable[[httpx.Request], Awaitable[None]]:
    """A request hook that lets out reads, the token request and (if allowed) DELETEs, and
    refuses anything else before it is sent: a read-only command cannot write by mistake."""
    default_token = str(httpx.URL(base_url.rstrip("/") + DEFAULT_TOKEN_PATH))

    async def check(request: httpx.Request) -> None:
        if request.method == "GET" or (request.method == "DELETE" and allow_delete):
            return
        token_urls = {default_token, str(httpx.URL(identity.token_url or default_token))}
        if request.method == "POST" and str(request.url.copy_with(query=None)) in token_urls:
            return
        raise RuntimeError(f"ccoperator {command} refused to send {request.method} "
                           f"{request.url.path}: it only reads"
                           + (" and deletes clients" if allow_delete else
                              " (dry run)" if command == "prune" else ""))

    return check
