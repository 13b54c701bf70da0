"""One remote client, one owner: ClaimIndex, fed as the watch and the start-up LIST feed it."""

from __future__ import annotations

from ccoperator.reconcile.ownership import ClaimIndex

KEY = ("t1", "shared-id")


def test_first_claim_wins_and_the_other_is_refused() -> None:
    claims = ClaimIndex()
    assert claims.claim(KEY, "a")
    assert not claims.claim(KEY, "b")
    assert claims.claim(KEY, "a")  # again: still a's
    assert claims.holder(KEY) == "a"


def test_recorded_claim_beats_a_pending_one() -> None:
    claims = ClaimIndex()
    assert claims.claim(KEY, "new")
    claims.observe("old", "2026-01-01T00:00:00Z", *KEY)  # e.g. listed at start-up
    assert claims.holder(KEY) == "old"
    assert not claims.claim(KEY, "new")


def test_two_recorded_claims_resolve_to_the_oldest_in_any_order() -> None:
    for order in (("late", "early"), ("early", "late")):
        claims = ClaimIndex()
        created = {"early": "2026-01-01T00:00:00Z", "late": "2026-02-01T00:00:00Z"}
        for uid in order:
            claims.observe(uid, created[uid], *KEY)
        assert claims.holder(KEY) == "early"
        assert claims.claim(KEY, "early") and not claims.claim(KEY, "late")


def test_release_and_forget_free_the_id_and_wake_the_refused() -> None:
    woken: list[str] = []
    claims = ClaimIndex()
    claims.freed.append(woken.append)
    assert claims.claim(KEY, "a")
    assert not claims.claim(KEY, "b")
    claims.release("a")
    assert woken == ["b"] and claims.holder(KEY) is None
    assert claims.claim(KEY, "b")
    claims.observe("b", "2026-01-01T00:00:00Z", *KEY)
    assert not claims.claim(KEY, "c")
    claims.forget("b")
    assert woken == ["b", "c"] and claims.claim(KEY, "c")


def test_status_without_a_client_id_holds_nothing() -> None:
    claims = ClaimIndex()
    claims.observe("a", "2026-01-01T00:00:00Z", "t1", None)
    assert claims.holder(KEY) is None
    claims.observe("a", "2026-01-01T00:00:00Z", *KEY)
    claims.observe("a", "2026-01-01T00:00:00Z", None, None)  # cleared (lost the id)
    assert claims.holder(KEY) is None
