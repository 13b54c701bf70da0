"""What a decision is made of and what it decides: the remote client as observed or desired,
everything observed about one resource, the context from outside it, and the plan.
Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ..api.clients import ClientSpec, ClientStatus, CurrentSecret, ObservedClient, ObservedSecret
from ..api.conditions import Reason
from ..api.marks import Mark, is_mark_tag, mark_from_tags
from ..api.secrets import SecretObject
from ..identity import ClientDto


@dataclass(frozen=True)
class RemoteClient:
    """The fields of the remote client that the spec controls, and (v1) its tags."""

    client_id: str
    name: str
    role_ids: frozenset[str]
    enabled: bool
    # v1 only; None: not shown (the unversioned form) or, desired, "leave as it is".
    access_token_lifetime: int | None = None
    # The mark its tags carry (v1; api/marks.py); desired: ours, or None where there are no
    # tags (the unversioned form marks the secrets' descriptions instead).
    mark: Mark | None = None
    other_tags: frozenset[str] = frozenset()  # tags that are not marks: kept on update

    def wire_tags(self) -> list[str] | None:
        """The tags to send for a desired client: our mark plus the others (None: none)."""
        if self.mark is None:
            return None
        return sorted({*self.other_tags, self.mark.tag()})

    def differences(self, desired: RemoteClient) -> tuple[tuple[str, str, str], ...]:
        """(field, this client's value, desired value) for each field `desired` sets that
        differs, as text (drift reports, plan previews)."""
        found = []
        if self.name != desired.name:
            found.append(("name", repr(self.name), repr(desired.name)))
        if self.role_ids != desired.role_ids:
            found.append(("roleIds", f"[{', '.join(sorted(self.role_ids))}]",
                          f"[{', '.join(sorted(desired.role_ids))}]"))
        if self.enabled != desired.enabled:
            found.append(("enabled", str(self.enabled).lower(), str(desired.enabled).lower()))
        if desired.access_token_lifetime not in (None, self.access_token_lifetime):
            found.append(("accessTokenLifetime", str(self.access_token_lifetime),
                          str(desired.access_token_lifetime)))
        if desired.mark is not None and desired.mark != self.mark:
            found.append(("mark", self.mark.tag() if self.mark is not None else "none",
                          desired.mark.tag()))
        return tuple(found)

    def satisfies(self, desired: RemoteClient) -> bool:
        """Whether this remote client is what `desired` asks for (fields it leaves as they
        are, None, are not compared)."""
        return (
            (self.name, self.role_ids, self.enabled)
            == (desired.name, desired.role_ids, desired.enabled)
            and desired.access_token_lifetime in (None, self.access_token_lifetime)
            and desired.mark in (None, self.mark)
        )


def to_remote(dto: ClientDto) -> RemoteClient:
    """A client as the identity service answered it, in the terms decisions compare."""
    return RemoteClient(
        client_id=dto.client_id,
        name=dto.name,
        role_ids=frozenset(dto.role_ids),
        # The contract marks Enabled optional; an absent value is the service default (true).
        enabled=dto.enabled if dto.enabled is not None else True,
        access_token_lifetime=dto.access_token_lifetime,
        mark=mark_from_tags(dto.tags),
        other_tags=frozenset(t for t in dto.tags or () if not is_mark_tag(t)),
    )


@dataclass(frozen=True)
class Observed:
    name: str
    namespace: str
    uid: str
    generation: int
    spec: ClientSpec
    status: ClientStatus
    tenant_id: str  # resolved from spec.tenantRef
    rotate_request: str | None
    # remote_observed False means "not looked up" (nothing to compare); remote None means 404.
    remote_observed: bool
    remote: RemoteClient | None
    secret: SecretObject | None
    now: datetime
    # A spec change decided without reading the remote client: `remote` is the copy we last
    # read or wrote (or None); the client is PUT as the spec says unless that copy satisfies
    # it already. Never set for a client we have not recorded.
    remote_assumed: bool = False
    # The declaration's owner key (api/marks.py), and the other keys that are this same
    # declaration under an older name: the resource's uid (the v1 tag before owner keys) and
    # the key under the cluster's default name. A client marked with one of those is ours.
    owner_key: str = ""
    own_aliases: frozenset[str] = frozenset()
    # Who the remote client says manages it, when that is known: from its tags (v1, read with
    # the client) or from its secrets' descriptions (unversioned: a list of its secrets).
    mark: Mark | None = None
    mark_known: bool = False
    # Which resource (uid) issued the client's newest marked secret, when its secrets were
    # read: this very resource means its own create, whose answer was lost.
    mark_issuer: str | None = None
    # The client's secrets (id, expiry) when this pass read them (managementPolicy: Observe).
    remote_secrets: tuple[ObservedSecret, ...] | None = None

    def ours(self, mark: Mark) -> bool:
        return mark.names(self.owner_key, self.own_aliases)


@dataclass(frozen=True)
class Context:
    """Inputs to decisions from outside the resource: settings, the tenant object, discovery.

    `default_lifetime` is already capped by the tenant's maxSecretLifetime (policy.py).
    """

    identity_url: str
    token_url: str
    default_lifetime: timedelta | None
    grace_period: timedelta
    resync: timedelta
    tagged: bool = False  # the tenant's API form has tags (v1): mark our clients with one


class IssueReason(StrEnum):
    """Why a new secret is issued; decides the event and whether the old one is retired."""

    ADOPTED = "adopted"
    MISSING = "missing"  # no Secret holds our credential
    REPLACED = "replaced"  # the Secret was edited or renamed: its credential is lost to us
    REQUESTED = "requested"  # rotation requested through the rotate annotation
    EXPIRING = "expiring"  # rotation because the current secret nears expiry
    RECLAIMED = "reclaimed"  # our own client found without a record (a rebuild, a restore)
    RESUMED = "resumed"  # this resource's own create found done: its first secret was lost


@dataclass(frozen=True)
class Blocked:
    reason: Reason
    message: str


@dataclass
class Plan:
    client_id: str
    secret_name: str
    blocked: Blocked | None = None
    record_intent: bool = False
    adopt: bool = False
    create: bool = False
    recreate: bool = False
    update: RemoteClient | None = None
    issue_secret: IssueReason | None = None
    write_secret: bool = False
    retire_current: bool = False
    revoke_now: tuple[int, ...] = ()
    revoke_unknown: bool = False  # after issuing: delete every remote secret we do not track
    delete_old_secret: str | None = None
    recover_current: CurrentSecret | None = None
    retire_previous: CurrentSecret | None = None
    requeue_after: timedelta | None = None
    # Our own client taken back: after the new secret, every other one retires with the grace.
    reclaim: bool = False
    # The unversioned form: rewrite the current secret's description with our mark.
    remark: bool = False
    # managementPolicy: Observe: what was read, and where the spec differs (nothing written).
    observe: ObservedClient | None = None
    drift: tuple[str, ...] = ()

    @property
    def touches_identity(self) -> bool:
        return bool(self.create or self.update or self.issue_secret or self.revoke_now
                    or self.revoke_unknown or self.remark)
