"""The administrator client a tenant object acts with: read from its Secret, or the operator's.

A `Credentials` holds the secret as SecretStr; a `CredentialsProblem` says why there are
none (the tenant's Ready=False reason and message). Never a secret value in either message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from ..api.conditions import TenantReason
from ..api.tenants import CLUSTER_KIND, TenantKey, TenantSpec
from ..identity import ApiVersion
from ..kube.api import KubeApi

OwnCredentials = Callable[[], "Credentials | None"]


@dataclass(frozen=True)
class Credentials:
    identity_url: str
    client_id: str
    client_secret: SecretStr
    api_version: ApiVersion = ApiVersion.UNVERSIONED


@dataclass(frozen=True)
class CredentialsProblem:
    reason: TenantReason
    message: str


async def load(
    kube: KubeApi,
    key: TenantKey,
    spec: TenantSpec,
    *,
    default_url: str | None,
    own: OwnCredentials,
    operator_namespace: str | None,
) -> Credentials | CredentialsProblem:
    url = spec.identity_url or default_url
    if not url:
        return CredentialsProblem(TenantReason.CREDENTIALS_NOT_FOUND,
                                  "spec.identityUrl is unset and the operator has no default "
                                  "(CCOPERATOR_IDENTITY_URL).")
    ref = spec.credentials_secret_ref
    if ref is None:
        mine = own()
        if mine is None:
            return CredentialsProblem(TenantReason.CREDENTIALS_NOT_FOUND,
                                      "spec.credentialsSecretRef is unset and the operator has "
                                      "no credentials of its own (CCOPERATOR_CLIENT_ID/_SECRET).")
        return Credentials(url, mine.client_id, mine.client_secret, spec.api_version)
    namespace = operator_namespace if key.kind == CLUSTER_KIND else key.namespace
    if not namespace:
        return CredentialsProblem(TenantReason.CREDENTIALS_NOT_FOUND,
                                  "the operator does not know its namespace "
                                  "(CCOPERATOR_NAMESPACE), where a ClusterIdentityTenant's "
                                  "credentials Secret lives.")
    data = await kube.read_secret_data(namespace, ref.name)
    where = f"Secret {namespace}/{ref.name}"
    if data is None:
        return CredentialsProblem(TenantReason.CREDENTIALS_NOT_FOUND, f"{where} does not exist.")
    missing = [k for k in (ref.client_id_key, ref.client_secret_key) if not data.get(k)]
    if missing:
        return CredentialsProblem(TenantReason.CREDENTIALS_NOT_FOUND,
                                  f"{where} has no key(s) {', '.join(missing)}.")
    return Credentials(url, data[ref.client_id_key].strip(),
                       SecretStr(data[ref.client_secret_key].strip()), spec.api_version)
