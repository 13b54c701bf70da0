"""The fence of leader election: leading is a deadline on the monotonic clock."""

from __future__ import annotations

import pytest
from ccoperator.controller.leader import ElectionConfig, Leadership, NotLeading

CONFIG = ElectionConfig(name="l", namespace="ns", lease_duration=15, renew_deadline=10,
                        retry_period=2, identity="me")


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_without_election_it_always_leads() -> None:
    leadership = Leadership(None)
    assert leadership.leading()
    leadership.check()


@pytest.mark.parametrize(("renewed_at", "now", "leading"), [
    (None, 100.0, False),   # never acquired
    (100.0, 100.0, True),
    (100.0, 109.9, True),   # within the renew deadline of the attempt that succeeded
    (100.0, 110.0, False),  # deadline passed: stop, 5s before anyone else may start
    (100.0, 400.0, False),  # resumed after SIGSTOP: stale belief, no writes
])
def test_leading_until_renew_deadline_after_the_last_successful_attempt(
        renewed_at: float | None, now: float, leading: bool) -> None:
    clock = Clock()
    leadership = Leadership(CONFIG, clock=clock)
    if renewed_at is not None:
        leadership._written(renewed_at)
    clock.now = now
    assert leadership.leading() is leading
    if not leading:
        with pytest.raises(NotLeading):
            leadership.check()


def test_stopped_callback_ends_leadership_at_once() -> None:
    clock = Clock()
    leadership = Leadership(CONFIG, clock=clock)
    leadership._written(clock.now)
    leadership._stopped()
    assert not leadership.leading()


@pytest.mark.parametrize(("lease", "renew", "retry"), [(10, 10, 2), (15, 2, 2), (15, 10, 0.5)])
def test_inconsistent_timings_are_refused(lease: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError):
        ElectionConfig("l", "ns", lease, renew, retry).validate()
