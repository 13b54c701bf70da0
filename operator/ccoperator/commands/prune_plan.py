"""`ccoperator prune`, the pure part: what the command line names, which marked clients are
deleted or kept and why, and how the result is shown (a table, or JSON for scripts).

No I/O here: `prune.py` reads the cluster and the identity service, this module decides and
renders (table-tested in tests/unit/test_prune.py). Nothing shown ever holds a secret: ids,
names, owner keys and reasons only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ..api.marks import Mark, namespace_and_name
from ..api.tenants import TenantKey
from ..tenants.marked import MarkedClient
from .common import (
    CommandError,
    check_cluster_name,
    identity_problem,
    kube_problem,
    parse_tenant_object,
)

__all__ = ["PruneError", "check_cluster_name", "identity_problem", "kube_problem",
           "parse_tenant_object"]

# Stop with exit status 1 (the read-only commands' error, common.py).
PruneError = CommandError

# Control characters of a client's name would reach the terminal as they are.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Options:
    tenant_object: TenantKey
    cluster_name: str
    dry_run: bool = False
    yes: bool = False
    force: bool = False
    include_released: bool = False
    output: str = "table"  # or "json"
    kubeconfig: str | None = None
    context: str | None = None


class Action(StrEnum):
    DELETE = "delete"
    KEEP = "keep"


class Result(StrEnum):
    DELETED = "deleted"
    ALREADY_GONE = "already gone"
    MARK_CHANGED = "kept: its mark changed since the listing"
    FAILED = "failed"
    NOT_ATTEMPTED = "not attempted"


@dataclass(frozen=True)
class Guards:
    """What keeps a marked client: a resource of the current cluster that records its id
    (`managed`: client id -> namespace/name), the clients this command or the operator
    authenticates with (`acting`), and released marks unless `include_released`."""

    managed: Mapping[str, str]
    acting: frozenset[str]
    include_released: bool = False


@dataclass(frozen=True)
class Row:
    client: MarkedClient
    action: Action
    reason: str = ""
    result: Result | None = None
    detail: str = ""  # why a deletion failed (an error message, never a secret)


def decide(client: MarkedClient, guards: Guards) -> Row:
    if client.client_id in guards.acting:
        return Row(client, Action.KEEP, "the client this command authenticates with")
    resource = guards.managed.get(client.client_id)
    if resource is not None:
        return Row(client, Action.KEEP,
                   f"the current cluster manages it (ClientCredentialClient {resource})")
    if client.mark.released and not guards.include_released:
        return Row(client, Action.KEEP, "released (deletionPolicy: Orphan); "
                   "--include-released deletes it too")
    return Row(client, Action.DELETE)


def plan(clients: Iterable[MarkedClient], guards: Guards) -> list[Row]:
    return [decide(client, guards) for client in clients]


def with_result(row: Row, result: Result, detail: str = "") -> Row:
    return replace(row, result=result, detail=detail)


def owner_of(mark: Mark) -> str:
    """The declaration a mark names, as namespace/name (an older mark: as it is)."""
    named = namespace_and_name(mark.owner)
    return f"{named[0]}/{named[1]}" if named else mark.owner


def _shown(text: str) -> str:
    return _UNPRINTABLE.sub("?", text) or "-"


def _action_text(row: Row) -> str:
    if row.result is not None:
        text = str(row.result)
        return f"{text}: {row.detail}" if row.detail else text
    return f"keep: {row.reason}" if row.action is Action.KEEP else "delete"


def table(rows: Sequence[Row]) -> str:
    """Columns CLIENT ID, NAME, OWNER (namespace/name), MARK, ACTION, kubectl-style."""
    lines = [("CLIENT ID", "NAME", "OWNER", "MARK", "ACTION")]
    for row in rows:
        lines.append((row.client.client_id, _shown(row.client.name), owner_of(row.client.mark),
                      "released" if row.client.mark.released else "owner", _action_text(row)))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join("   ".join([*(cell.ljust(w) for cell, w in zip(line, widths, strict=False)),
                                 line[4]]) for line in lines)


@dataclass(frozen=True)
class Scope:
    """Where the clients were looked for, for the header and the JSON document."""

    tenant_object: TenantKey
    tenant_id: str
    identity_url: str
    api_version: str
    cluster_name: str
    dry_run: bool
    incomplete: bool = False  # the service could not read some clients (a 207 listing)

    def header(self) -> str:
        return (f"Clients of tenant {self.tenant_id} ({self.tenant_object}, "
                f"{self.identity_url}, {self.api_version} form) marked by cluster "
                f"{self.cluster_name}:")


def counts(rows: Sequence[Row]) -> dict[str, int]:
    results = [row.result for row in rows]
    return {
        "delete": sum(row.action is Action.DELETE for row in rows),
        "deleted": sum(r in (Result.DELETED, Result.ALREADY_GONE) for r in results),
        "skipped": sum(row.action is Action.KEEP or row.result is Result.MARK_CHANGED
                       for row in rows),
        "failed": sum(r is Result.FAILED for r in results),
        "notAttempted": sum(r is Result.NOT_ATTEMPTED for r in results),
    }


def summary(rows: Sequence[Row], *, dry_run: bool) -> str:
    n = counts(rows)
    if dry_run:
        return (f"dry run: would delete {n['delete']}, skip {n['skipped']}; "
                "nothing was deleted")
    gone = sum(row.result is Result.ALREADY_GONE for row in rows)
    text = f"deleted {n['deleted']}" + (f" ({gone} already gone)" if gone else "")
    text += f", skipped {n['skipped']}"
    if n["failed"] or n["notAttempted"]:
        text += f", failed {n['failed']}, not attempted {n['notAttempted']}"
    return text


def document(scope: Scope, rows: Sequence[Row]) -> dict[str, Any]:
    """The JSON form (`-o json`): one object, stable field names."""
    return {
        "tenantObject": {"kind": scope.tenant_object.kind,
                         "namespace": scope.tenant_object.namespace or None,
                         "name": scope.tenant_object.name},
        "tenantId": scope.tenant_id,
        "identityUrl": scope.identity_url,
        "apiVersion": scope.api_version,
        "clusterName": scope.cluster_name,
        "dryRun": scope.dry_run,
        "incomplete": scope.incomplete,
        "clients": [{
            "clientId": row.client.client_id,
            "name": row.client.name,
            "ownerKey": row.client.mark.owner,
            "owner": owner_of(row.client.mark),
            "mark": "released" if row.client.mark.released else "owner",
            "action": str(row.action),
            "reason": row.reason or None,
            "result": str(row.result) if row.result is not None else None,
            "detail": row.detail or None,
        } for row in rows],
        "summary": counts(rows),
    }


def not_gone(cluster_name: str, claims: Sequence[str]) -> str:
    """Why a cluster whose name the current cluster's resources carry is not gone."""
    shown = ", ".join(sorted(claims)[:3]) + (", ..." if len(claims) > 3 else "")
    return (f"cluster {cluster_name} is not gone: {len(claims)} ClientCredentialClient(s) of "
            f"the current cluster carry its owner keys ({shown})")
