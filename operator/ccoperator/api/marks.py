"""How a declaration is named across clusters, and how its remote client carries that name.

A `ClientCredentialClient` is known by its **owner key**, `<cluster name>/<namespace>/<name>`,
which outlives the resource's uid: the same manifest in a rebuilt or restored cluster of the
same name is the same declaration, and finds the same client. Its default client id is derived
from the owner key (a UUID of version 8 whose first 32 bits are a fingerprint of the cluster
name, so a cluster's own default ids are recognisable in a tenant listing).

Every client the operator creates or adopts carries its owner key where the operator can read
it back: on the v1 form as the tag `ccoperator.io/owner=<owner key>`, on the unversioned form
(no tags) at the end of the description of each secret the operator issues; there the newest
marked secret speaks for the client. A client whose resource was deleted with
`deletionPolicy: Orphan` is marked `ccoperator.io/released=<owner key>`: kept on purpose, not an
orphan, and taken back by the same declaration if it comes back.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

OWNER_PREFIX = "ccoperator.io/owner="
RELEASED_PREFIX = "ccoperator.io/released="
# A mark at the end of a secret's description: " [ccoperator.io/owner=<key> uid=<uid>]", the
# uid being the resource that issued the secret (a restarted pass tells its own earlier create
# from an earlier life of the declaration by it).
_DESCRIPTION_MARK = re.compile(
    r"\s*\[ccoperator\.io/(owner|released)=([^\]\s]+)(?: uid=([^\]\s]+))?\]\s*$")
# What the operator derives: any UUID of version 8 (RFC 9562). A caller-chosen spec.clientId
# of this form is refused at admission (the CRD), so nobody can take an id another
# declaration will derive.
DERIVED_ID_PATTERN = (r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-8[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}"
                      r"-[0-9a-fA-F]{12}$")
_DERIVED_ID = re.compile(DERIVED_ID_PATTERN)


@dataclass(frozen=True)
class Cluster:
    """This cluster as its estate knows it: its name (CCOPERATOR_CLUSTER_NAME), and the name
    it has by default, the uid of its kube-system namespace (unique, but new after a rebuild).
    Keys under the default name stay this cluster's after a name is set."""

    name: str
    default_name: str

    def key(self, namespace: str, name: str) -> str:
        """The owner key of the declaration `namespace/name` in this cluster."""
        return f"{self.name}/{namespace}/{name}"

    def aliases(self, namespace: str, name: str, uid: str) -> frozenset[str]:
        """Other names of the same declaration: its resource uid (the v1 tag before owner
        keys) and its key under the default name."""
        return frozenset({uid, f"{self.default_name}/{namespace}/{name}"}) - {
            self.key(namespace, name)}


def cluster_of(owner_key: str) -> str:
    return owner_key.split("/", 1)[0]


def namespace_and_name(owner_key: str) -> tuple[str, str] | None:
    parts = owner_key.split("/")
    return (parts[1], parts[2]) if len(parts) == 3 else None


def cluster_fingerprint(cluster: str) -> str:
    """The first 8 hex digits of every client id derived in this cluster."""
    return hashlib.sha256(b"ccoperator-cluster:" + cluster.encode()).hexdigest()[:8]


def derived_client_id(owner_key: str) -> str:
    """The default client id of a declaration: the same owner key always gives the same id
    (a create after a lost answer, or in a rebuilt cluster, targets the same client)."""
    head = bytes.fromhex(cluster_fingerprint(cluster_of(owner_key)))
    body = hashlib.sha256(b"ccoperator-owner:" + owner_key.encode()).digest()[:12]
    raw = bytearray(head + body)
    raw[6] = (raw[6] & 0x0F) | 0x80  # version 8
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 9562 variant
    return str(uuid.UUID(bytes=bytes(raw)))


def is_derived_form(client_id: str) -> bool:
    return _DERIVED_ID.match(client_id) is not None


def derived_in(client_id: str, cluster: str) -> bool:
    """Whether the id has the form this cluster derives (a candidate: the mark decides)."""
    return is_derived_form(client_id) and client_id[:8].lower() == cluster_fingerprint(cluster)


@dataclass(frozen=True)
class Mark:
    """Who a remote client says manages it: an owner key (or, before owner keys, a resource
    uid), and whether that declaration let it go (deletionPolicy: Orphan)."""

    owner: str
    released: bool = False

    def names(self, owner_key: str, aliases: frozenset[str]) -> bool:
        """Whether this mark names the declaration `owner_key` (or one of its other names:
        `Cluster.aliases`)."""
        return self.owner == owner_key or self.owner in aliases

    def tag(self) -> str:
        return (RELEASED_PREFIX if self.released else OWNER_PREFIX) + self.owner

    def in_description(self, description: str, uid: str | None = None) -> str:
        """The description of a secret issued under this mark (by the resource `uid`)."""
        issuer = f" uid={uid}" if uid else ""
        return f"{without_mark(description)} [{self.tag()}{issuer}]"


def mark_from_tags(tags: Iterable[str] | None) -> Mark | None:
    for tag in tags or ():
        if tag.startswith(OWNER_PREFIX):
            return Mark(tag[len(OWNER_PREFIX):])
        if tag.startswith(RELEASED_PREFIX):
            return Mark(tag[len(RELEASED_PREFIX):], released=True)
    return None


def is_mark_tag(tag: str) -> bool:
    return tag.startswith((OWNER_PREFIX, RELEASED_PREFIX))


def mark_from_description(description: str | None) -> Mark | None:
    found = _DESCRIPTION_MARK.search(description or "")
    if found is None:
        return None
    return Mark(found.group(2), released=found.group(1) == "released")


def without_mark(description: str) -> str:
    return _DESCRIPTION_MARK.sub("", description)


def mark_from_secrets(secrets: Iterable[tuple[int, str | None]]) -> Mark | None:
    """The client's mark on the unversioned form: that of its newest marked secret (secret
    ids grow with each secret a client is issued). `secrets`: (id, description) pairs."""
    newest = _newest_marked(secrets)
    return mark_from_description(newest) if newest is not None else None


def issuer_from_secrets(secrets: Iterable[tuple[int, str | None]]) -> str | None:
    """The uid of the resource that issued the client's newest marked secret, if it said."""
    newest = _newest_marked(secrets)
    found = _DESCRIPTION_MARK.search(newest or "")
    return found.group(3) if found is not None else None


def _newest_marked(secrets: Iterable[tuple[int, str | None]]) -> str | None:
    marked = [(i, text) for i, text in secrets if mark_from_description(text) is not None]
    return max(marked, key=lambda pair: pair[0])[1] if marked else None
