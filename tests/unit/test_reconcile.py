"""Decision tables for reconcile.decide: every branch of the plan, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ccoperator import reconcile as rc
from ccoperator.api.clients import (
    MANAGED_BY_LABEL,
    OWNER_UID_LABEL,
    SECRET_CLIENT_ID_ANNOTATION,
    SECRET_EXPIRES_ANNOTATION,
    SECRET_FINGERPRINT_ANNOTATION,
    SECRET_ID_ANNOTATION,
    ClientSpec,
    ClientStatus,
    CurrentSecret,
    RetiringSecret,
)
from ccoperator.api.conditions import Reason
from ccoperator.api.marks import Mark, derived_client_id
from ccoperator.reconcile import IssueReason
from pydantic import SecretStr

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
UID = "5b0e6f4a-1111-2222-3333-444455556666"
KEY = "blue/ns/app"  # this declaration's owner key
DERIVED = derived_client_id(KEY)
CTX = rc.Context(
    identity_url="http://127.0.0.1:9/",
    token_url="http://127.0.0.1:9/identity/connect/token",
    default_lifetime=timedelta(days=90),
    grace_period=timedelta(hours=1),
    resync=timedelta(minutes=10),
)
VALUE = "s3cr3t-value-of-the-test"


def spec(**over: Any) -> ClientSpec:
    body: dict[str, Any] = {"tenantRef": {"name": "tenant-one"}, "roleIds": ["r1", "r2"]}
    body.update(over)
    return ClientSpec.model_validate(body)


def remote(client_id: str = DERIVED, **over: Any) -> rc.RemoteClient:
    base = rc.RemoteClient(client_id=client_id, name="app", role_ids=frozenset({"r1", "r2"}),
                           enabled=True)
    return replace(base, **over)


def good_secret(client_id: str = DERIVED, secret_id: int = 7, value: str = VALUE,
                expires: datetime | None = NOW + timedelta(days=60),
                **over: Any) -> rc.SecretObject:
    data = {
        "clientId": client_id,
        "clientSecret": value,
        "tenantId": "t1",
        "tokenUrl": CTX.token_url,
        "identityUrl": CTX.identity_url,
    }
    annotations = {
        SECRET_CLIENT_ID_ANNOTATION: client_id,
        SECRET_ID_ANNOTATION: str(secret_id),
        SECRET_EXPIRES_ANNOTATION: expires.isoformat() if expires else "",
        SECRET_FINGERPRINT_ANNOTATION: rc.fingerprint(SecretStr(value)),
    }
    base = rc.SecretObject(
        name="app-credentials",
        owned=True,
        labels={MANAGED_BY_LABEL: "ccoperator", OWNER_UID_LABEL: UID},
        annotations=annotations,
        data=data,
        secret_value=SecretStr(value),
    )
    return replace(base, **over)


def managed_status(client_id: str = DERIVED, **over: Any) -> ClientStatus:
    base = ClientStatus(
        client_id=client_id,
        tenant_id="t1",
        secret_name="app-credentials",
        current_secret=CurrentSecret(id=7, expires_at=NOW + timedelta(days=60),
                                     issued_at=NOW - timedelta(days=30)),
        owner_key=KEY,
    )
    return base.model_copy(update=over)


def observed(**over: Any) -> rc.Observed:
    base = rc.Observed(
        name="app",
        namespace="ns",
        uid=UID,
        generation=1,
        spec=spec(),
        status=ClientStatus(),
        tenant_id="t1",
        rotate_request=None,
        remote_observed=False,
        remote=None,
        secret=None,
        now=NOW,
        owner_key=KEY,
        own_aliases=frozenset({UID, "default-uid/ns/app"}),
    )
    return replace(base, **over)


def in_sync(**over: Any) -> rc.Observed:
    values: dict[str, Any] = {
        "status": managed_status(),
        "remote_observed": True,
        "remote": remote(),
        "secret": good_secret(),
    }
    values.update(over)
    return observed(**values)


def test_first_create_with_derived_id_needs_no_read() -> None:
    o = observed()
    assert not rc.needs_remote(o.spec, o.status)
    plan = rc.decide(o, CTX)
    # No intent write either: nobody else can hold a uid-derived id (a lost answer is a 409).
    assert (plan.client_id, plan.record_intent, plan.create, plan.write_secret) == (
        DERIVED, False, True, True)
    assert plan.update is None and plan.issue_secret is None


def test_chosen_id_is_read_before_create() -> None:
    assert rc.needs_remote(spec(clientId="mine"), ClientStatus())
    plan = rc.decide(observed(spec=spec(clientId="mine"), remote_observed=True), CTX)
    assert plan.client_id == "mine" and plan.create and plan.record_intent


def test_taken_id_without_adopt_is_refused() -> None:
    plan = rc.decide(observed(spec=spec(clientId="mine"), remote_observed=True,
                              remote=remote("mine")), CTX)
    assert plan.blocked is not None and plan.blocked.reason is Reason.CLIENT_ID_TAKEN
    assert "spec.adopt" in plan.blocked.message
    assert not plan.touches_identity


def test_adopt_updates_to_spec_and_issues_a_secret() -> None:
    o = observed(spec=spec(clientId="mine", adopt=True, name="new name"), remote_observed=True,
                 remote=remote("mine", name="old", enabled=False))
    plan = rc.decide(o, CTX)
    assert plan.adopt and plan.record_intent and not plan.create
    assert plan.update == rc.RemoteClient("mine", "new name", frozenset({"r1", "r2"}), True)
    assert plan.issue_secret is IssueReason.ADOPTED and plan.write_secret


def test_adopt_of_missing_client_creates_it() -> None:
    plan = rc.decide(observed(spec=spec(clientId="mine", adopt=True), remote_observed=True), CTX)
    assert plan.create and not plan.adopt


def test_foreign_secret_blocks_everything() -> None:
    plan = rc.decide(observed(secret=good_secret(owned=False)), CTX)
    assert plan.blocked is not None and plan.blocked.reason is Reason.SECRET_CONFLICT
    assert not plan.create and not plan.record_intent


def test_in_sync_plans_nothing() -> None:
    plan = rc.decide(in_sync(), CTX)
    assert plan.blocked is None
    assert not plan.touches_identity
    assert not plan.write_secret and plan.delete_old_secret is None
    assert plan.recover_current is None


def test_remote_drift_is_put_back() -> None:
    plan = rc.decide(in_sync(remote=remote(role_ids=frozenset({"r1"}), name="x")), CTX)
    assert plan.update == remote(name="app")
    assert plan.issue_secret is None and not plan.write_secret


def test_disabled_in_spec_is_applied() -> None:
    plan = rc.decide(in_sync(spec=spec(enabled=False)), CTX)
    assert plan.update is not None and plan.update.enabled is False


def test_remote_deleted_out_of_band_is_recreated() -> None:
    plan = rc.decide(in_sync(remote=None), CTX)
    assert plan.create and plan.recreate and plan.write_secret
    assert plan.revoke_now == ()  # the client's secrets went with it


def test_create_that_never_landed_is_retried_not_recreated() -> None:
    plan = rc.decide(in_sync(status=ClientStatus(client_id=DERIVED), remote=None, secret=None),
                     CTX)
    assert plan.create and not plan.recreate


def test_client_without_stored_secret_gets_one_and_unknown_ones_revoked() -> None:
    # Crash after the create reached the service but before the Secret was written.
    plan = rc.decide(in_sync(status=ClientStatus(client_id=DERIVED), secret=None), CTX)
    assert not plan.create
    assert plan.issue_secret is IssueReason.MISSING and plan.write_secret
    assert plan.revoke_unknown


def test_deleted_secret_is_restored_and_the_lost_one_revoked() -> None:
    plan = rc.decide(in_sync(secret=None), CTX)
    assert plan.issue_secret is IssueReason.MISSING
    assert plan.revoke_now == (7,)


def test_edited_secret_value_is_replaced() -> None:
    edited = good_secret()
    edited = replace(edited, data={**edited.data, "clientSecret": "typo"},
                     secret_value=SecretStr("typo"))
    plan = rc.decide(in_sync(secret=edited), CTX)
    assert plan.issue_secret is IssueReason.REPLACED and plan.revoke_now == (7,)


def test_adopted_client_keeps_secrets_it_did_not_issue() -> None:
    plan = rc.decide(in_sync(status=managed_status(adopted=True), secret=None), CTX)
    assert plan.issue_secret is IssueReason.MISSING and not plan.revoke_unknown


def test_non_secret_key_drift_rewrites_without_new_secret() -> None:
    drifted = good_secret()
    drifted = replace(drifted, data={**drifted.data, "tokenUrl": "http://127.0.0.1:1/old"})
    plan = rc.decide(in_sync(secret=drifted), CTX)
    assert plan.write_secret and plan.issue_secret is None


def test_renamed_output_key_rewrites_the_secret() -> None:
    plan = rc.decide(in_sync(spec=spec(secret={"keys": {"tenantId": "tenant"}})), CTX)
    assert plan.write_secret and plan.issue_secret is None


def test_crash_after_secret_write_recovers_status_from_secret() -> None:
    plan = rc.decide(in_sync(status=ClientStatus(client_id=DERIVED)), CTX)
    assert plan.issue_secret is None and not plan.write_secret
    assert plan.recover_current is not None and plan.recover_current.id == 7
    # The interrupted pass may have left a secret from a lost answer: sweep it now.
    assert plan.revoke_unknown and plan.retire_previous is None


def test_interrupted_rotation_gives_previous_secret_its_grace() -> None:
    # Status still names secret 5; the Secret already holds 7 (status write never happened).
    status = managed_status(current_secret=CurrentSecret(id=5, expires_at=NOW))
    plan = rc.decide(in_sync(status=status), CTX)
    assert plan.recover_current is not None and plan.recover_current.id == 7
    assert plan.retire_previous is not None and plan.retire_previous.id == 5
    assert plan.revoke_unknown and plan.revoke_now == ()


def test_interrupted_pass_on_adopted_client_revokes_nothing_unknown() -> None:
    plan = rc.decide(in_sync(status=ClientStatus(client_id=DERIVED, adopted=True)), CTX)
    assert plan.recover_current is not None and not plan.revoke_unknown


def test_rotation_due_before_expiry() -> None:
    soon = NOW + timedelta(days=10)  # a third of 90 days is 30: due
    status = managed_status(current_secret=CurrentSecret(id=7, expires_at=soon))
    plan = rc.decide(in_sync(status=status, secret=good_secret(expires=soon)), CTX)
    assert plan.issue_secret is IssueReason.EXPIRING and plan.retire_current


def test_rotate_before_from_spec() -> None:
    expires = NOW + timedelta(hours=4, minutes=5)
    status = managed_status(current_secret=CurrentSecret(id=7, expires_at=expires))
    o = in_sync(spec=spec(secret={"expiresAfter": "720h", "rotateBefore": "4h"}), status=status,
                secret=good_secret(expires=expires))
    plan = rc.decide(o, CTX)
    assert plan.issue_secret is None
    assert plan.requeue_after == timedelta(minutes=5)  # wakes when rotation falls due


def test_rotation_on_request_annotation() -> None:
    plan = rc.decide(in_sync(rotate_request="2026-11-28"), CTX)
    assert plan.issue_secret is IssueReason.REQUESTED and plan.retire_current
    handled = in_sync(rotate_request="2026-11-28",
                      status=managed_status(rotation_request="2026-11-28"))
    assert rc.decide(handled, CTX).issue_secret is None


def test_retired_secret_is_revoked_after_grace() -> None:
    status = managed_status(retiring_secrets=(
        RetiringSecret(id=5, revoke_after=NOW - timedelta(seconds=1)),
        RetiringSecret(id=6, revoke_after=NOW + timedelta(minutes=5)),
    ))
    plan = rc.decide(in_sync(status=status), CTX)
    assert plan.revoke_now == (5,)
    assert plan.requeue_after == timedelta(minutes=5)


def test_secret_that_never_expires_is_not_rotated() -> None:
    status = managed_status(current_secret=CurrentSecret(id=7, expires_at=None))
    plan = rc.decide(in_sync(spec=spec(secret={"expiresAfter": "0s"}), status=status,
                             secret=good_secret(expires=None)), CTX)
    assert plan.issue_secret is None and plan.requeue_after == CTX.resync


def test_changed_client_id_is_refused() -> None:
    plan = rc.decide(in_sync(spec=spec(clientId="other")), CTX)
    assert plan.blocked is not None and plan.blocked.reason is Reason.CLIENT_ID_CHANGED


def test_renamed_secret_moves_credentials() -> None:
    o = in_sync(spec=spec(secret={"name": "new-name"}), secret=None)
    plan = rc.decide(o, CTX)
    assert plan.secret_name == "new-name" and plan.delete_old_secret == "app-credentials"
    assert plan.issue_secret is IssueReason.MISSING and plan.revoke_now == (7,)


@pytest.mark.parametrize("value", ["", "abc", "1d", "h1", "-1h"])
def test_bad_durations_are_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        spec(secret={"expiresAfter": value})


def test_fingerprint_is_stable_and_short() -> None:
    assert rc.fingerprint(SecretStr("a")) == rc.fingerprint(SecretStr("a"))
    assert rc.fingerprint(SecretStr("a")) != rc.fingerprint(SecretStr("b"))
    assert len(rc.fingerprint(SecretStr("a"))) == 16


# ------------------------------------------------------------------ v1: lifetimes and tags

V1 = replace(CTX, tagged=True)


def test_v1_client_in_sync_with_our_tag_needs_nothing() -> None:
    plan = rc.decide(in_sync(remote=remote(mark=Mark(KEY), access_token_lifetime=3600),
                             mark=Mark(KEY), mark_known=True), V1)
    assert plan.update is None and not plan.touches_identity


def test_v1_missing_owner_tag_is_put_back_keeping_other_tags() -> None:
    plan = rc.decide(in_sync(remote=remote(other_tags=frozenset({"team:x"}))), V1)
    assert plan.update is not None
    assert plan.update.wire_tags() == sorted({"team:x", f"ccoperator.io/owner={KEY}"})


def test_unversioned_clients_have_no_tags_to_compare() -> None:
    plan = rc.decide(in_sync(), CTX)
    assert plan.update is None
    assert rc.desired_remote(in_sync(), DERIVED, CTX).wire_tags() is None


def test_access_token_lifetime_is_compared_only_when_the_spec_sets_it() -> None:
    drifted = remote(mark=Mark(KEY), access_token_lifetime=900)
    assert rc.decide(in_sync(remote=drifted), V1).update is None
    plan = rc.decide(in_sync(spec=spec(accessTokenLifetime=600), remote=drifted), V1)
    assert plan.update is not None and plan.update.access_token_lifetime == 600


def test_client_marked_for_another_declaration_is_taken_without_adopt() -> None:
    o = observed(spec=spec(clientId="shared"), remote_observed=True,
                 remote=remote("shared", mark=Mark("green/ns/app")), mark=Mark("green/ns/app"),
                 mark_known=True)
    plan = rc.decide(o, V1)
    assert plan.blocked is not None and plan.blocked.reason is Reason.CLIENT_ID_TAKEN
    assert "green" not in plan.blocked.message  # never names the other declaration
    assert not plan.touches_identity


def test_adopting_an_untagged_client_tags_it_ours() -> None:
    o = observed(spec=spec(clientId="legacy", adopt=True), remote_observed=True,
                 remote=remote("legacy"))
    plan = rc.decide(o, V1)
    assert plan.adopt and plan.update is not None and plan.update.mark == Mark(KEY)


def test_secret_of_a_derived_create_whose_status_was_lost_is_recovered() -> None:
    # No intent is written for a uid-derived id: a crash after the Secret write leaves a
    # status without a client id, and the Secret is the truth (no second create).
    base = observed()
    data, labels, annotations = rc.desired_secret_fields(base, CTX, DERIVED)
    value = SecretStr("s3cret")
    key = base.spec.secret.keys.client_secret
    secret = rc.SecretObject(
        name=base.spec.secret_name(base.name), owned=True, labels=labels,
        annotations={**annotations, SECRET_ID_ANNOTATION: "7",
                     SECRET_FINGERPRINT_ANNOTATION: rc.fingerprint(value)},
        data={**data, key: value.get_secret_value()}, secret_value=value)
    plan = rc.decide(replace(base, secret=secret), CTX)
    assert not plan.create and not plan.record_intent and plan.issue_secret is None
    assert plan.recover_current is not None and plan.recover_current.id == 7


# ------------------------------------------------------- one declaration, one client (marks)


@pytest.mark.parametrize("ctx", [CTX, V1], ids=["unversioned", "v1"])
@pytest.mark.parametrize("owner", [KEY, UID, "default-uid/ns/app"],
                         ids=["owner key", "legacy uid", "default cluster name"])
@pytest.mark.parametrize("adopt", [False, True])
def test_our_own_client_found_without_a_record_is_taken_back(
        ctx: rc.Context, owner: str, adopt: bool) -> None:
    """A rebuilt cluster, a restore, an Orphan deletion declared again: whatever adopt says
    (and the tenant's adoption), a client carrying this declaration's mark is reclaimed."""
    chosen = {"clientId": "billing-demo", "adopt": adopt}
    o = observed(spec=spec(**chosen), remote_observed=True,
                 remote=remote("billing-demo", mark=Mark(owner) if ctx.tagged else None,
                               role_ids=frozenset({"old-role"})),
                 mark=Mark(owner), mark_known=True)
    plan = rc.decide(o, ctx)
    assert plan.blocked is None and plan.reclaim and not plan.create and not plan.adopt
    assert plan.issue_secret is IssueReason.RECLAIMED and plan.write_secret
    assert not plan.revoke_unknown and plan.revoke_now == ()  # the others retire with grace
    assert plan.update is not None and plan.update.role_ids == frozenset({"r1", "r2"})
    if ctx.tagged:
        assert plan.update.mark == Mark(KEY)  # re-marked with the owner key


def test_a_released_client_is_taken_back_by_the_same_declaration() -> None:
    o = observed(spec=spec(clientId="kept"), remote_observed=True, remote=remote("kept"),
                 mark=Mark(KEY, released=True), mark_known=True)
    plan = rc.decide(o, CTX)
    assert plan.reclaim and plan.blocked is None


@pytest.mark.parametrize("other", [Mark("green/other-ns/app"), Mark("blue/other-ns/app"),
                                   Mark("4e0b-other-uid"),
                                   Mark("green/other-ns/app", released=True)])
def test_a_client_marked_for_another_namespace_is_never_taken(other: Mark) -> None:
    """While its resource is gone (or alive), another namespace cannot take it: adopt or not
    (policy refused adopt where the tenant denies adoption; here it allows it)."""
    for adopt in (False, True):
        o = observed(spec=spec(clientId="x-demo", adopt=adopt), remote_observed=True,
                     remote=remote("x-demo"), mark=other, mark_known=True)
        plan = rc.decide(o, CTX)
        assert plan.blocked is not None and plan.blocked.reason is Reason.CLIENT_ID_TAKEN
        assert "other-ns" not in plan.blocked.message and not plan.touches_identity


@pytest.mark.parametrize("other", [Mark("green/ns/app"), Mark("blue/ns/other"),
                                   Mark("green/ns/app", released=True)])
def test_a_client_marked_for_another_declaration_needs_adopt_and_is_handed_over(
        other: Mark) -> None:
    taken = observed(spec=spec(clientId="x-demo"), remote_observed=True, remote=remote("x-demo"),
                     mark=other, mark_known=True)
    assert rc.decide(taken, CTX).blocked.reason is Reason.CLIENT_ID_TAKEN  # type: ignore[union-attr]
    handed = replace(taken, spec=spec(clientId="x-demo", adopt=True))
    plan = rc.decide(handed, V1)
    # adopt: true (the tenant allows it, or policy refused earlier): a handover, our mark.
    assert plan.adopt and not plan.reclaim and plan.issue_secret is IssueReason.ADOPTED
    assert plan.update is not None and plan.update.mark == Mark(KEY)


def test_a_client_handed_over_elsewhere_is_never_written_to() -> None:
    o = in_sync(rotate_request="now", secret=None, mark=Mark("green/ns/app"), mark_known=True)
    plan = rc.decide(o, CTX)
    assert plan.blocked is not None and plan.blocked.reason is Reason.OWNED_ELSEWHERE
    assert not plan.touches_identity and not plan.write_secret


def test_a_managed_client_without_a_known_mark_is_decided_as_ours() -> None:
    """The unversioned form shows marks only in secrets: the plan is made, and the controller
    reads the mark before any write (reconciler._needs_mark)."""
    plan = rc.decide(in_sync(rotate_request="now"), CTX)
    assert plan.issue_secret is IssueReason.REQUESTED and plan.touches_identity


@pytest.mark.parametrize(("owner_key", "issue", "remark"), [
    (None, None, True),          # marked before owner keys: re-mark, no other write
    ("default-uid/ns/app", None, True),  # marked under the default name: re-mark
    (KEY, None, False),          # marked: nothing
    (None, "now", False),        # a new secret carries the mark anyway
])
def test_unversioned_clients_marked_the_old_way_are_re_marked(
        owner_key: str | None, issue: str | None, remark: bool) -> None:
    plan = rc.decide(in_sync(status=managed_status(owner_key=owner_key), rotate_request=issue),
                     CTX)
    assert plan.remark is remark
    if remark:
        assert plan.update is None and plan.issue_secret is None and plan.touches_identity


def test_v1_clients_tagged_with_a_uid_are_re_tagged_with_the_owner_key() -> None:
    o = in_sync(remote=remote(mark=Mark(UID), other_tags=frozenset({"team:x"})),
                mark=Mark(UID), mark_known=True)
    plan = rc.decide(o, V1)
    assert plan.blocked is None and plan.issue_secret is None and not plan.remark
    assert plan.update is not None
    assert plan.update.wire_tags() == sorted({"team:x", f"ccoperator.io/owner={KEY}"})


def test_a_default_id_recorded_before_owner_keys_is_kept() -> None:
    legacy = "0d1b6a1e-5e2f-5c3d-9a8b-7c6d5e4f3a2b"  # a uuid5 of the resource uid
    plan = rc.decide(in_sync(status=managed_status(client_id=legacy),
                             remote=remote(legacy), secret=good_secret(legacy)), CTX)
    assert plan.blocked is None and plan.client_id == legacy and not plan.create


def test_this_resources_own_create_found_done_revokes_the_lost_secret_at_once() -> None:
    """A crash after the POST (or a lost answer seen by another process): the newest secret
    was issued by this very resource, so nobody holds it: revoked now, not after a grace."""
    o = observed(remote_observed=True, remote=remote(), mark=Mark(KEY), mark_known=True,
                 mark_issuer=UID)
    plan = rc.decide(o, CTX)
    assert plan.issue_secret is IssueReason.RESUMED and plan.revoke_unknown
    assert not plan.reclaim and not plan.create and plan.blocked is None
    earlier_life = replace(o, mark_issuer="uid-of-the-resource-before-the-rebuild")
    assert rc.decide(earlier_life, CTX).reclaim


# ---------------------------------------------------------- managementPolicy: Observe


def observing(**over: Any) -> rc.Observed:
    values: dict[str, Any] = {
        "spec": spec(clientId="hand-made", managementPolicy="Observe", adopt=True),
        "remote_observed": True,
        "remote": remote("hand-made", name="Hand made", role_ids=frozenset({"r1", "r9"}),
                         enabled=False),
        "remote_secrets": (),
        "mark_known": True,
    }
    values.update(over)
    return observed(**values)


def test_observe_reads_and_reports_drift_and_never_writes() -> None:
    plan = rc.decide(observing(), CTX)
    assert plan.blocked is None and not plan.touches_identity and not plan.write_secret
    assert plan.observe is not None and plan.observe.role_ids == ("r1", "r9")
    assert plan.drift == ("name: spec 'app' remote 'Hand made'",
                          "roleIds: spec [r1, r2] remote [r1, r9]",
                          "enabled: spec true remote false")


def test_observe_of_a_client_that_matches_has_no_drift() -> None:
    plan = rc.decide(observing(remote=remote("hand-made", name="app")), CTX)
    assert plan.observe is not None and plan.drift == ()


def test_observe_of_a_missing_client_is_client_not_found() -> None:
    plan = rc.decide(observing(remote=None), CTX)
    assert plan.blocked is not None and plan.blocked.reason is Reason.CLIENT_NOT_FOUND
    assert not plan.touches_identity


def test_observe_of_a_client_marked_for_another_declaration_is_taken() -> None:
    plan = rc.decide(observing(mark=Mark("green/other/app")), CTX)
    assert plan.blocked is not None and plan.blocked.reason is Reason.CLIENT_ID_TAKEN


def test_observe_of_a_once_managed_client_writes_nothing_either() -> None:
    """Manage switched to Observe: the recorded client is only read from then on."""
    o = in_sync(spec=spec(managementPolicy="Observe", clientId=DERIVED), rotate_request="now",
                secret=None)
    plan = rc.decide(o, CTX)
    assert plan.observe is not None and not plan.touches_identity and not plan.write_secret


def test_a_preview_of_an_update_that_also_rotates_names_both() -> None:
    from ccoperator.controller.preview import UPDATE, describe

    o = in_sync(spec=spec(name="renamed"), rotate_request="now")
    preview = describe(o, rc.decide(o, CTX))
    assert preview.verb == UPDATE
    assert preview.changes == ("name: 'app' -> 'renamed'",
                               "rotation asked by the identity.ccoperator.io/rotate annotation")
