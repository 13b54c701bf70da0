"""What a pass would do now, said in one verb: the plan of `decide`, for `ccoperator plan`.

The verbs: create, update (each field, old -> new), adopt, reclaim, rotate (due, asked by the
annotation, or a Secret to repair), observe, none, and refused (with the reason and message the
operator would report). `Controller.preview` gets there with the operator's own gate, reads
and decision (reconciler.py); this module only names the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import reconcile as rc

CREATE, UPDATE, ADOPT, RECLAIM, ROTATE = "create", "update", "adopt", "reclaim", "rotate"
OBSERVE, NONE, REFUSED = "observe", "none", "refused"


@dataclass(frozen=True)
class Preview:
    verb: str
    client_id: str | None = None
    # refused: the Ready=False reason and message the operator would report
    reason: str | None = None
    message: str | None = None
    # what changes: "field: old -> new" (update, adopt, reclaim), the fields a create sets,
    # the drift an observe reports, why a secret is issued (rotate)
    changes: tuple[str, ...] = ()

    @property
    def changes_something(self) -> bool:
        return self.verb not in (NONE, OBSERVE, REFUSED)


def refused(reason: str, message: str) -> Preview:
    return Preview(REFUSED, reason=reason, message=message)


def describe(o: rc.Observed, plan: rc.Plan) -> Preview:
    """The verb of a plan `decide` made (blocked plans are refusals)."""
    if plan.blocked is not None:
        return Preview(REFUSED, plan.client_id, plan.blocked.reason.value,
                       plan.blocked.message)
    if plan.observe is not None:
        return Preview(OBSERVE, plan.client_id, changes=plan.drift)
    fields = _field_changes(o.remote, plan.update)
    if plan.create:
        return Preview(CREATE, plan.client_id, changes=_created(o, plan))
    if plan.reclaim:
        return Preview(RECLAIM, plan.client_id, changes=fields)
    if plan.adopt:
        return Preview(ADOPT, plan.client_id, changes=fields)
    if plan.update is not None or plan.remark:
        return Preview(UPDATE, plan.client_id,
                       changes=fields + (("mark: re-marked with the owner key",)
                                         if plan.remark else ())
                       + ((_why_issue(plan.issue_secret),) if plan.issue_secret else ()))
    if plan.issue_secret is not None:
        return Preview(ROTATE, plan.client_id, changes=(_why_issue(plan.issue_secret),))
    if plan.write_secret or plan.revoke_now or plan.delete_old_secret:
        return Preview(UPDATE, plan.client_id, changes=_secret_changes(plan))
    return Preview(NONE, plan.client_id)


def _field_changes(remote: rc.RemoteClient | None,
                   desired: rc.RemoteClient | None) -> tuple[str, ...]:
    if desired is None:
        return ()
    if remote is None:
        return ("the client as the spec says",)
    return tuple(f"{field}: {have} -> {want}"
                 for field, have, want in remote.differences(desired))


def _created(o: rc.Observed, plan: rc.Plan) -> tuple[str, ...]:
    spec = o.spec
    return (f"name: {spec.display_name(o.name)!r}",
            f"roleIds: [{', '.join(sorted(spec.role_ids))}]",
            f"enabled: {str(spec.enabled).lower()}",
            f"Secret {plan.secret_name!r} with a new secret")


def _why_issue(reason: rc.IssueReason) -> str:
    return {
        rc.IssueReason.REQUESTED: "rotation asked by the identity.ccoperator.io/rotate annotation",
        rc.IssueReason.EXPIRING: "the current secret is due for rotation",
        rc.IssueReason.MISSING: "the Secret holds no credential of the client: a new secret",
        rc.IssueReason.REPLACED: "the Secret was edited or renamed: a new secret",
    }.get(reason, f"a new secret ({reason.value})")


def _secret_changes(plan: rc.Plan) -> tuple[str, ...]:
    lines = []
    if plan.write_secret:
        lines.append(f"Secret {plan.secret_name!r}: its fields put back as the spec says")
    if plan.revoke_now:
        lines.append(f"revoke retired secrets {', '.join(map(str, plan.revoke_now))}")
    if plan.delete_old_secret:
        lines.append(f"delete the old Secret {plan.delete_old_secret!r}")
    return tuple(lines)
