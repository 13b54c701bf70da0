"""A client's credentials: issued by the identity service, written into the Secret, and the
secrets nobody holds revoked. A secret value lives only in memory (SecretStr) until it is in
the Secret; the Secret's annotations name the secret id it holds and a fingerprint of it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr

from .. import reconcile as rc
from ..api.clients import (
    SECRET_EXPIRES_ANNOTATION,
    SECRET_FINGERPRINT_ANNOTATION,
    SECRET_ID_ANNOTATION,
    CurrentSecret,
    RetiringSecret,
)
from ..api.marks import Mark
from ..identity import NotFound, OutcomeUnknown, SecretCreate
from ..kube.api import KubeApi, Owner
from .gate import Admitted
from .observe import Observer


@dataclass(frozen=True)
class Credential:
    """A freshly issued (or carried-over) secret. Lives only in memory, then in the Secret."""

    value: SecretStr
    secret_id: int
    expires_at: datetime | None
    # Every secret id of the client right after this one was issued, when the add answer
    # said so (unversioned form): which secrets nobody holds is then known without a list.
    client_secrets: frozenset[int] | None = None


class CredentialWriter:
    def __init__(self, kube: KubeApi, observer: Observer) -> None:
        self._kube = kube
        self._observer = observer

    @staticmethod
    def description(o: rc.Observed) -> str:
        """A new secret's description: the user's (or a default) and our mark at its end
        (api/marks.py: the unversioned form has no tags; its newest marked secret speaks
        for the client)."""
        return Mark(o.owner_key).in_description(
            o.spec.secret_description(o.namespace, o.name), uid=o.uid)

    async def remark(self, o: rc.Observed, admitted: Admitted, secret_id: int) -> None:
        """Put our mark on the client's current secret (one write, nothing else changes)."""
        await admitted.connection.identity.update_secret(
            o.tenant_id, admitted.client_id, secret_id,
            SecretCreate(description=self.description(o)))

    async def others(self, o: rc.Observed, admitted: Admitted, credential: Credential,
                     plan: rc.Plan) -> set[int]:
        """Every secret of the client but the one just issued (the add answer lists them on
        the unversioned form; v1 needs a list)."""
        existing = credential.client_secrets
        if existing is None:
            existing = frozenset(s.id for s in await admitted.connection.identity.list_secrets(
                o.tenant_id, plan.client_id))
        return set(existing) - {credential.secret_id}

    async def issue(self, o: rc.Observed, admitted: Admitted,
                    expires_at: datetime | None) -> Credential:
        identity = admitted.connection.identity
        answer = await identity.add_secret_listing(o.tenant_id, admitted.client_id, SecretCreate(
            description=self.description(o), expiration=expires_at))
        added = answer.secret
        if added.value is None:
            # The secret exists remotely but we never saw its value: the next pass finds the
            # Secret still missing, issues another and revokes this one.
            raise OutcomeUnknown("the service added a secret but returned no value",
                                 method="POST", path="Secret")
        known = (frozenset(s.id for s in answer.secrets) if answer.secrets is not None
                 else None)
        return Credential(added.value, added.id, added.expiration, client_secrets=known)

    async def write(self, o: rc.Observed, plan: rc.Plan, ctx: rc.Context,
                    credential: Credential | None) -> None:
        data, labels, annotations = rc.desired_secret_fields(o, ctx, plan.client_id)
        key = o.spec.secret.keys.client_secret
        if credential is None:
            # Only the non-secret fields drifted: keep the value and its annotations.
            assert o.secret is not None and o.secret.secret_value is not None
            value = o.secret.secret_value
            for name in (SECRET_ID_ANNOTATION, SECRET_EXPIRES_ANNOTATION):
                if name in o.secret.annotations:
                    annotations[name] = o.secret.annotations[name]
        else:
            value = credential.value
            annotations[SECRET_ID_ANNOTATION] = str(credential.secret_id)
            annotations[SECRET_EXPIRES_ANNOTATION] = (
                credential.expires_at.isoformat() if credential.expires_at else "")
        annotations[SECRET_FINGERPRINT_ANNOTATION] = rc.fingerprint(value)
        data[key] = value.get_secret_value()
        existing = o.secret if o.secret is not None and o.secret.owned else None
        self._observer.wrote_secret(o.uid, await self._kube.write_secret(
            Owner(o.name, o.namespace, o.uid), plan.secret_name, data, labels, annotations,
            existing,
        ))

    async def revoke(
        self,
        o: rc.Observed,
        admitted: Admitted,
        plan: rc.Plan,
        current: CurrentSecret | None,
        retiring: list[RetiringSecret],
        revoke_unknown: bool,
        credential: Credential | None,
    ) -> set[int]:
        """Revoke what the plan says, and (revoke_unknown) every secret nobody holds.
        Returns the ids revoked (already gone counts)."""
        tenant = o.tenant_id
        identity = admitted.connection.identity
        targets = set(plan.revoke_now)
        if revoke_unknown and current is not None:
            # Valid secrets are the one in the Secret and those in their grace period; any
            # other one came from an answer we never saw and nobody holds its value.
            keep = {current.id, *(r.id for r in retiring)}
            if (credential is not None and credential.secret_id == current.id
                    and credential.client_secrets is not None):
                # The add answer of this pass listed them all: the same as a list call now
                # (nothing else acts on this client while this pass holds its key).
                existing = set(credential.client_secrets)
            else:
                existing = {s.id for s in await identity.list_secrets(tenant, plan.client_id)}
            targets |= existing - keep
        revoked: set[int] = set()
        for secret_id in sorted(targets):
            with contextlib.suppress(NotFound):  # already gone: that is what we wanted
                await identity.delete_secret(tenant, plan.client_id, secret_id)
            revoked.add(secret_id)
        return revoked
