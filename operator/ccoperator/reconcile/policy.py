"""Who may ask for what: pure decisions over a client, the tenant object it names, and the ids
the operator must never hand out. No I/O here (ARCHITECTURE rule 5).

The controller calls these before any identity call. A refusal is a `Denial` (a Ready=False
reason and a message that names what was refused); a grant says which tenant to act in and
the secret lifetime to use when the spec sets none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from ..api.clients import ClientSpec, TenantRef, parse_duration
from ..api.conditions import Reason
from ..api.tenants import CLUSTER_KIND, Adoption, TenantKey, TenantObject, TenantSpec, ref_key
from ..identity import ApiVersion


@dataclass(frozen=True)
class Denial:
    reason: Reason
    message: str
    # A refusal that the order of a GitOps apply can explain (the tenant object not seen
    # yet): reported only once a short settling period has passed.
    may_settle: bool = False


@dataclass(frozen=True)
class Grant:
    key: TenantKey
    tenant: TenantSpec
    # The lifetime of a new secret when spec.secret.expiresAfter is unset: the operator's
    # default, capped by the tenant's maxSecretLifetime (None: never expires).
    default_lifetime: timedelta | None


def tenant_key(ref: TenantRef, namespace: str) -> TenantKey:
    return ref_key(ref.kind, ref.name, namespace)


def resolve(
    ref: TenantRef,
    namespace: str,
    namespace_labels: dict[str, str] | None,
    tenant: TenantObject | None,
) -> TenantSpec | Denial:
    """The tenant spec a client in `namespace` may use through `ref`, or why not."""
    key = tenant_key(ref, namespace)
    if tenant is None:
        where = (f"in namespace {namespace!r} (an IdentityTenant is only found in the "
                 "resource's own namespace)" if ref.kind != CLUSTER_KIND else "in the cluster")
        return Denial(Reason.TENANT_REF_NOT_FOUND,
                      f"{ref.kind} {ref.name!r} does not exist {where}. Create it, or fix "
                      "spec.tenantRef (immutable: recreate the resource).", may_settle=True)
    if tenant.spec is None:
        return Denial(Reason.TENANT_REF_NOT_FOUND,
                      f"{key} cannot be read ({tenant.spec_error}); fix that object.")
    if ref.kind == CLUSTER_KIND:
        selector = tenant.spec.namespace_selector
        if selector is None or namespace_labels is None or not selector.matches(namespace_labels):
            return Denial(Reason.TENANT_NOT_ALLOWED,
                          f"ClusterIdentityTenant {ref.name!r} does not allow namespace "
                          f"{namespace!r} (its spec.namespaceSelector does not select it). "
                          "Ask the platform team to allow it, or use another tenant.")
    return tenant.spec


def reserved(client_id: str, reserved_ids: Iterable[str]) -> Denial | None:
    """A client whose credentials the operator acts with is never managed by a resource."""
    if client_id in set(reserved_ids):
        return Denial(Reason.CLIENT_ID_RESERVED,
                      f"Client id {client_id!r} is one the operator authenticates with; it can "
                      "never be adopted, updated, rotated or deleted through a "
                      "ClientCredentialClient. Choose another spec.clientId.")
    return None


def check(
    spec: ClientSpec,
    tenant: TenantSpec,
    key: TenantKey,
    operator_default_lifetime: timedelta | None,
) -> Grant | Denial:
    """The tenant's rules (roles, lifetimes, adoption, client ids) applied to the spec."""
    refused: list[str] = []
    allowed_roles = set(tenant.allowed_role_ids)
    outside = [r for r in spec.role_ids if r not in allowed_roles]
    if outside:
        refused.append(f"roleIds {', '.join(outside)} are not in the tenant's allowedRoleIds")

    maximum = tenant.max_lifetime()
    default = _capped(operator_default_lifetime, maximum)
    if spec.secret.expires_after is not None:
        lifetime = spec.lifetime(None)
        if maximum is not None and (lifetime is None or lifetime > maximum):
            asked = "0s (never expires)" if lifetime is None else spec.secret.expires_after
            refused.append(f"spec.secret.expiresAfter {asked} exceeds the tenant's "
                           f"maxSecretLifetime {tenant.max_secret_lifetime}")
    elif default is not None and spec.secret.rotate_before is not None and (
            parse_duration(spec.secret.rotate_before) >= default):
        # An unset expiresAfter takes the capped default; rotating before more than the whole
        # lifetime would issue a secret on every pass.
        refused.append(f"spec.secret.rotateBefore {spec.secret.rotate_before} is not shorter "
                       f"than the secret lifetime the tenant allows ({_text(default)}); set "
                       "spec.secret.expiresAfter or a shorter rotateBefore")

    if spec.adopt and tenant.adoption is Adoption.DENY:
        refused.append("adopt: true, and the tenant does not allow adoption (adoption: Deny)")

    if spec.observe_only and tenant.adoption is Adoption.DENY:
        refused.append("managementPolicy: Observe, and the tenant does not allow adoption "
                       "(adoption: Deny): only a tenant that lets existing clients be taken "
                       "over lets them be observed")

    if spec.client_id is not None and tenant.allowed_client_ids is not None and not any(
            _full_match(pattern, spec.client_id) for pattern in tenant.allowed_client_ids):
        refused.append(f"spec.clientId {spec.client_id!r} matches none of the tenant's "
                       "allowedClientIds")

    if refused:
        return Denial(Reason.POLICY_DENIED,
                      f"{key} refuses this client: " + "; ".join(refused) + ".")
    return Grant(key=key, tenant=tenant, default_lifetime=default)


def supported(spec: ClientSpec, tenant: TenantSpec, key: TenantKey) -> Denial | None:
    """What the tenant's API form cannot do: refused before any call, as a spec error."""
    if spec.access_token_lifetime is not None and tenant.api_version is ApiVersion.UNVERSIONED:
        return Denial(Reason.INVALID_SPEC,
                      f"spec.accessTokenLifetime needs a tenant in the v1 API form; {key} "
                      "speaks the unversioned form (spec.apiVersion). Remove the field, or "
                      "use a v1 tenant.")
    return None


def owner(claimants: Iterable[tuple[str, str]]) -> str | None:
    """Of the resources that recorded one remote client in their status, the one that keeps
    it: the oldest (creationTimestamp, then uid). Deterministic, so every pass and every
    restart picks the same one. `claimants`: (creationTimestamp, uid) pairs."""
    ordered = sorted(claimants)
    return ordered[0][1] if ordered else None


def taken(client_id: str) -> Denial:
    # The message must not name the other resource or its namespace.
    return Denial(Reason.CLIENT_ID_TAKEN,
                  f"Client id {client_id!r} is already managed by another "
                  "ClientCredentialClient. One remote client has exactly one owning resource: "
                  "choose another spec.clientId.")


def _capped(default: timedelta | None, maximum: timedelta | None) -> timedelta | None:
    if maximum is None:
        return default
    return maximum if default is None else min(default, maximum)


def _full_match(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return False  # admission rejects invalid patterns; an older object matches nothing


def _text(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    return f"{seconds // 3600}h" if seconds % 3600 == 0 else f"{seconds}s"
