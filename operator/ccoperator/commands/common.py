"""What the read-only commands (`prune`, `plan`, `import`) share and decide without I/O: the
tenant object a command line names, the cluster name, which clients the current cluster's
resources hold, and how a failure is told to the user (ids and names, never a secret).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..api.tenants import CLUSTER_KIND, NAMESPACED_KIND, TenantKey
from ..identity import Forbidden, IdentityError, TenantNotFound, Transient, Unauthorized
from ..kube.http import KubeApiError
from ..settings import ClusterName

KINDS = {
    "clusteridentitytenant": CLUSTER_KIND, "clusteridentitytenants": CLUSTER_KIND,
    "cit": CLUSTER_KIND,
    "identitytenant": NAMESPACED_KIND, "identitytenants": NAMESPACED_KIND, "it": NAMESPACED_KIND,
}
# A Kubernetes object name (DNS subdomain).
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_CLUSTER_NAME: TypeAdapter[str] = TypeAdapter(ClusterName)


class CommandError(Exception):
    """Stop with exit status 1; the message is for the user (ids and names, never a secret)."""


def tenant_kind(text: str) -> str:
    """The tenant kind of `--tenant-object KIND/NAME`. Raises ValueError for the user."""
    kind_text, slash, name = text.partition("/")
    if not slash or not name or "/" in name:
        raise ValueError(f"--tenant-object {text!r}: expected KIND/NAME, e.g. "
                         "cit/platform or it/team-a (with -n NAMESPACE)")
    kind = KINDS.get(kind_text.lower())
    if kind is None:
        raise ValueError(f"--tenant-object {text!r}: unknown kind {kind_text!r}; "
                         "ClusterIdentityTenant (cit) or IdentityTenant (it)")
    if not _OBJECT_NAME.match(name):
        raise ValueError(f"--tenant-object {text!r}: {name!r} is not an object name")
    return kind


def parse_tenant_object(text: str, namespace: str | None) -> TenantKey:
    """`--tenant-object KIND/NAME` (and `-n/--namespace` for an IdentityTenant) -> its key.
    Raises ValueError with the message a user reads."""
    kind = tenant_kind(text)
    if kind == CLUSTER_KIND and namespace:
        raise ValueError("a ClusterIdentityTenant is cluster-scoped: drop -n/--namespace")
    if kind == NAMESPACED_KIND and not namespace:
        raise ValueError("an IdentityTenant is namespaced: give its namespace with "
                         "-n/--namespace")
    return TenantKey(kind, namespace or "", text.partition("/")[2])


def check_cluster_name(name: str, flag: str = "--cluster-name") -> str:
    """The name as CCOPERATOR_CLUSTER_NAME accepts it (part of every owner key)."""
    try:
        return _CLUSTER_NAME.validate_python(name)
    except ValidationError:
        raise ValueError(f"{flag} {name!r}: a cluster name is a DNS label or a uid "
                         "(lowercase letters, digits, '-' and '.'), as CCOPERATOR_CLUSTER_NAME "
                         "is") from None


def where(item: Mapping[str, Any]) -> str:
    meta = item.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def held_clients(items: Iterable[Mapping[str, Any]], tenant_id: str) -> dict[str, str]:
    """client id -> namespace/name of every ClientCredentialClient that records it
    (status.clientId, in this tenant or before a tenant is recorded) or declares it
    (spec.clientId): the clients the current cluster manages or means to."""
    held: dict[str, str] = {}
    for item in items:
        spec, status = (item.get(k) or {} for k in ("spec", "status"))
        if status.get("clientId") and status.get("tenantId") in (None, "", tenant_id):
            held[str(status["clientId"])] = where(item)
        if spec.get("clientId"):
            held.setdefault(str(spec["clientId"]), where(item))
    return held


def kube_problem(what: str, exc: KubeApiError) -> CommandError:
    if exc.status is None:
        return CommandError(f"{what}: the Kubernetes API server did not answer ({exc})")
    if exc.status == 401:
        return CommandError(f"{what}: the Kubernetes API server refused the kubeconfig's "
                            f"credentials ({exc})")
    if exc.status == 403:
        return CommandError(f"{what}: forbidden to the kubeconfig's user ({exc})")
    return CommandError(f"{what}: {exc}")


def identity_problem(exc: IdentityError, key: TenantKey, client_id: str, identity_url: str,
                     tenant_id: str) -> CommandError:
    who = f"the credentials of {key} (client id {client_id})"
    if isinstance(exc, Unauthorized):
        return CommandError(f"the identity service at {identity_url} refused {who}: {exc}")
    if isinstance(exc, Forbidden):
        return CommandError(f"{who} lack the rights for this in tenant {tenant_id}: {exc}")
    if isinstance(exc, TenantNotFound):
        return CommandError(f"tenant {tenant_id} does not exist at {identity_url}: {exc}")
    if isinstance(exc, Transient):
        return CommandError(f"the identity service at {identity_url} did not answer: {exc}")
    return CommandError(f"the identity service at {identity_url}: {exc}")


def import_target(text: str, namespace: str | None) -> tuple[TenantKey, str]:
    """`ccoperator import`: the tenant object and the manifests' namespace (`-n`: required
    for a ClusterIdentityTenant; an IdentityTenant's own). Raises ValueError for the user."""
    if tenant_kind(text) == CLUSTER_KIND:
        if not namespace:
            raise ValueError("give the manifests' namespace with -n/--namespace (a "
                             "ClusterIdentityTenant is cluster-scoped)")
        return parse_tenant_object(text, None), namespace
    key = parse_tenant_object(text, namespace)
    return key, key.namespace
