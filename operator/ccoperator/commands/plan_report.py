"""`ccoperator plan`, the pure part: one row per resource, the table, the JSON document and
the exit status (as Terraform's `plan -detailed-exitcode`).

The verbs are the operator's (controller/preview.py: create, update, adopt, reclaim, rotate,
observe, none, refused) and, with --prune, `delete` and `orphan` for resources the manifests no
longer contain. Nothing shown ever holds a secret: ids, names, fields and reasons only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..api.clients import DeletionPolicy, ManagementPolicy
from ..controller import preview

DELETE, ORPHAN = "delete", "orphan"
# Verbs under which nothing would change: exit status 0 when every row has one.
UNCHANGED = frozenset({preview.NONE, preview.OBSERVE})
ORDER = (preview.CREATE, preview.ADOPT, preview.RECLAIM, preview.UPDATE, preview.ROTATE,
         DELETE, ORPHAN, preview.REFUSED, preview.OBSERVE, preview.NONE)
EXIT_UNCHANGED, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Row:
    namespace: str
    name: str
    verb: str
    client_id: str | None = None
    reason: str | None = None  # refused: the Ready reason (or the API server's, at dry run)
    message: str | None = None
    changes: tuple[str, ...] = ()

    @classmethod
    def of(cls, namespace: str, name: str, seen: preview.Preview) -> Row:
        return cls(namespace, name, seen.verb, seen.client_id, seen.reason, seen.message,
                   seen.changes)

    @property
    def changes_something(self) -> bool:
        return self.verb not in UNCHANGED


def rejected(namespace: str, name: str, reason: str, message: str) -> Row:
    """The API server refused the manifest at the dry run (schema, CEL, admission, RBAC)."""
    return Row(namespace, name, preview.REFUSED, reason=reason,
               message=f"the API server refuses it: {message}")


def pruned(item: Mapping[str, Any]) -> Row:
    """A resource of the manifests' namespaces that the manifests no longer contain: what
    deleting it does (its deletionPolicy; an Observe resource never deletes its client)."""
    meta, spec, status = (item.get(k) or {} for k in ("metadata", "spec", "status"))
    client_id = status.get("clientId") or spec.get("clientId")
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    if spec.get("managementPolicy") == ManagementPolicy.OBSERVE.value:
        return Row(namespace, name, ORPHAN, client_id, message="not in the manifests; "
                   "managementPolicy: Observe: its client is never deleted")
    if spec.get("deletionPolicy") == DeletionPolicy.ORPHAN.value:
        return Row(namespace, name, ORPHAN, client_id, message="not in the manifests; "
                   "deletionPolicy: Orphan: its client stays, marked released")
    what = (f"its client {client_id} is deleted from the identity service"
            if status.get("clientId") else "it records no client")
    return Row(namespace, name, DELETE, client_id,
               message=f"not in the manifests; deletionPolicy: Delete: {what}")


def exit_status(rows: Sequence[Row]) -> int:
    """0 when nothing would change (every row none or observe), 2 when something differs
    from what the manifests ask: a change the operator would make, a deletion, or a refusal
    (the manifest would not work as written)."""
    return EXIT_CHANGES if any(row.changes_something for row in rows) else EXIT_UNCHANGED


def counts(rows: Sequence[Row]) -> dict[str, int]:
    found = Counter(row.verb for row in rows)
    return {verb: found[verb] for verb in ORDER if found[verb]}


def summary(rows: Sequence[Row]) -> str:
    if not rows:
        return "Plan: no ClientCredentialClient in the manifests."
    n = counts(rows)
    text = ", ".join(f"{count} {verb}" for verb, count in n.items())
    tail = ("nothing would change" if exit_status(rows) == EXIT_UNCHANGED
            else "some resources differ from what is applied or would be refused")
    return f"Plan: {text} ({tail})."


def _shown(text: str | None) -> str:
    return _UNPRINTABLE.sub("?", text) if text else "-"


def details(row: Row) -> list[str]:
    """What the row's details column says, one line each."""
    lines = []
    if row.reason or row.message:
        lines.append(f"{row.reason}: {row.message}" if row.reason else str(row.message))
    return [_shown(line) for line in (*lines, *row.changes)]


def table(rows: Sequence[Row]) -> str:
    """Columns RESOURCE (namespace/name), VERB, CLIENT ID, DETAILS; a row's further details
    on the lines below it, under DETAILS."""
    cells = [(f"{row.namespace}/{row.name}", row.verb, _shown(row.client_id), details(row))
             for row in rows]
    head = ("RESOURCE", "VERB", "CLIENT ID")
    widths = [max(len(c[i]) for c in [(*head, []), *cells]) for i in range(3)]
    indent = " " * (sum(widths) + 3 * 3)

    def line(first: Sequence[str], detail: str) -> str:
        return "   ".join(cell.ljust(w) for cell, w in zip(first, widths, strict=True)) + (
            "   " + detail)

    out = [line(head, "DETAILS").rstrip()]
    for resource, verb, client_id, text in cells:
        out.append(line((resource, verb, client_id), text[0] if text else "").rstrip())
        out.extend(indent + more for more in text[1:])
    return "\n".join(out)


def document(rows: Sequence[Row], *, cluster_name: str, notes: Sequence[str]) -> dict[str, Any]:
    """The JSON form (`-o json`): one object, stable field names."""
    return {
        "clusterName": cluster_name,
        "resources": [{
            "namespace": row.namespace,
            "name": row.name,
            "verb": row.verb,
            "clientId": row.client_id,
            "reason": row.reason,
            "message": row.message,
            "changes": list(row.changes),
        } for row in rows],
        "summary": counts(rows),
        "changes": exit_status(rows) == EXIT_CHANGES,
        "notes": list(notes),
    }
