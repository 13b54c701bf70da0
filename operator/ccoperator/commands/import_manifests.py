"""`ccoperator import`, the pure part: which clients of a tenant are free to bring in, the
resource names derived from their names, the manifests, and how they are printed.

No I/O here: `importer.py` reads the cluster and the identity service. Nothing printed ever
holds a secret: ids, names and roles only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ..api.clients import API_VERSION, KIND, ManagementPolicy
from ..api.marks import Mark
from ..api.tenants import TenantKey, TenantSpec
from ..identity import ClientDto

MAX_NAME = 63  # a DNS-1123 label
_NOT_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Skipped:
    client_id: str
    why: str


def skip_reason(client_id: str, mark: Mark | None, held: Mapping[str, str],
                reserved: frozenset[str]) -> str | None:
    """Why a client is not brought in (None: it is free): a resource of this cluster holds
    or declares it, the operator or a tenant object acts with it, or it carries a mark."""
    if client_id in reserved:
        return "reserved: a tenant object or the operator acts with it"
    if client_id in held:
        return f"ClientCredentialClient {held[client_id]} manages it"
    if mark is not None:
        return (f"marked {'released' if mark.released else 'owned'} by {mark.owner}: "
                "a declaration takes it back itself")
    return None


def dns_label(text: str) -> str:
    """A DNS-1123 label from a display name: lowercase, runs of anything else than a-z and
    0-9 as one '-', no leading or trailing '-', at most 63 characters ('' when nothing is
    left)."""
    return _NOT_NAME.sub("-", text.lower()).strip("-")[:MAX_NAME].strip("-")


def resource_name(client: ClientDto, taken: set[str]) -> str:
    """A name for the client's resource: from its name, else its id; unique among `taken`
    (suffix -2, -3, ...), which it joins."""
    base = dns_label(client.name) or dns_label(client.client_id) or "client"
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f"-{n}"
        name = base[:MAX_NAME - len(suffix)].rstrip("-") + suffix
    taken.add(name)
    return name


def outside_roles(client: ClientDto, tenant: TenantSpec) -> list[str]:
    """The client's roles the tenant object does not allow (kept in the manifest: the policy
    refuses the resource until they are allowed or removed)."""
    allowed = set(tenant.allowed_role_ids)
    return [role for role in client.role_ids if role not in allowed]


def manifest(client: ClientDto, key: TenantKey, namespace: str, name: str,
             policy: ManagementPolicy) -> dict[str, Any]:
    spec: dict[str, Any] = {"tenantRef": {"kind": key.kind, "name": key.name},
                            "clientId": client.client_id}
    if client.name:
        spec["name"] = client.name
    spec.update(roleIds=list(client.role_ids), enabled=client.enabled is not False, adopt=True,
                managementPolicy=policy.value)
    return {"apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def warnings(client: ClientDto, key: TenantKey, tenant: TenantSpec) -> list[str]:
    """What the operator will refuse about this manifest, for stderr."""
    out = []
    outside = outside_roles(client, tenant)
    if outside:
        out.append(f"client {client.client_id}: role(s) {', '.join(outside)} are not in "
                   f"{key}'s allowedRoleIds: kept in the manifest, the operator refuses it "
                   "(PolicyDenied) until they are allowed or removed")
    if not client.role_ids:
        out.append(f"client {client.client_id} has no role: a ClientCredentialClient needs "
                   "at least one (spec.roleIds); add one before applying")
    if tenant.allowed_client_ids is not None and client.client_id not in (
            tenant.allowed_client_ids):
        out.append(f"client {client.client_id} is not in {key}'s allowedClientIds: the "
                   "operator refuses it (PolicyDenied)")
    return out


def render(manifests: Sequence[dict[str, Any]], output: str) -> str:
    """Multi-document YAML (`-o yaml`), or one JSON List (`-o json`)."""
    if output == "json":
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)},
                          indent=2)
    return "".join(f"---\n{yaml.safe_dump(m, sort_keys=False)}" for m in manifests)


def summary(count: int, key: TenantKey, tenant_id: str, skipped: Iterable[Skipped],
            policy: ManagementPolicy) -> list[str]:
    lines = [f"{count} client(s) of tenant {tenant_id} ({key}) to bring in, managementPolicy: "
             f"{policy.value}"]
    lines += [f"  skipped {s.client_id}: {s.why}" for s in skipped]
    return lines
