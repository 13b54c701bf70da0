"""Backoff math, Retry-After parsing, and the retry loop's decisions (plain objects only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from ccoperator.identity import OutcomeUnknown, RetryPolicy, Transient, parse_retry_after
from ccoperator.identity.errors import Conflict
from ccoperator.identity.retry import call_with_retries

NOW = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_backoff_is_capped_exponential_full_jitter() -> None:
    policy = RetryPolicy(base=0.5, cap=5.0)
    assert [policy.backoff(n, lambda: 1.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert [policy.backoff(n, lambda: 0.0) for n in range(6)] == [0.0] * 6
    assert policy.backoff(3, lambda: 0.25) == 1.0
    assert policy.backoff(10_000, lambda: 1.0) == 5.0  # no overflow for huge attempts


def test_delay_never_shorter_than_retry_after() -> None:
    policy = RetryPolicy(base=1.0, cap=8.0)
    assert policy.delay(0, 3.0, lambda: 1.0) == 3.0
    assert policy.delay(3, 3.0, lambda: 1.0) == 8.0
    assert policy.delay(2, None, lambda: 0.5) == 2.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("0", 0.0),
        ("7", 7.0),
        (" 2 ", 2.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        (format_datetime(NOW - timedelta(seconds=30), usegmt=True), 0.0),
        ("Mon, 06 May 2030 07:08:19 GMT", 10.0),
        ("Monday, 06-May-30 07:08:19 GMT", 10.0),  # obsolete RFC 850 form
        ("Mon, 32 Foo 2030 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


class Script:
    """An attempt function that raises the scripted errors, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def transient(*, retry_after: float | None = None, not_processed: bool = False) -> Transient:
    return Transient(
        "POST /p: 503 server error",
        retry_after=retry_after,
        not_processed=not_processed,
        method="POST",
        path="/p",
        status=503,
        operation_id="op-9",
    )


async def run(
    script: Script,
    *,
    idempotent: bool,
    policy: RetryPolicy | None = None,
    rand: Callable[[], float] = lambda: 1.0,
) -> tuple[str, Sleeps]:
    sleeps = Sleeps()
    result = await call_with_retries(
        script,
        idempotent=idempotent,
        policy=policy or RetryPolicy(max_retries=3, base=1.0, cap=4.0),
        describe="call",
        sleep=sleeps,
        rand=rand,
    )
    return result, sleeps


async def test_idempotent_call_retries_transient_failures_with_backoff() -> None:
    script = Script(transient(), transient(), transient())
    result, sleeps = await run(script, idempotent=True)
    assert result == "ok" and script.calls == 4
    assert sleeps.waits == [1.0, 2.0, 4.0]


async def test_retry_after_is_honoured() -> None:
    script = Script(transient(retry_after=3.0), transient(retry_after=0.0))
    _, sleeps = await run(script, idempotent=True, rand=lambda: 0.0)
    assert sleeps.waits == [3.0, 0.0]


async def test_gives_up_after_max_retries() -> None:
    script = Script(*[transient() for _ in range(10)])
    with pytest.raises(Transient):
        await run(script, idempotent=True)
    assert script.calls == 4  # the first attempt and three retries


async def test_long_retry_after_is_not_waited_for() -> None:
    script = Script(transient(retry_after=600.0))
    policy = RetryPolicy(max_retries=3, max_retry_after=60.0)
    with pytest.raises(Transient) as caught:
        await run(script, idempotent=True, policy=policy)
    assert caught.value.retry_after == 600.0
    assert script.calls == 1


async def test_non_transient_errors_are_not_retried() -> None:
    script = Script(Conflict("POST /p: 409 conflict"))
    with pytest.raises(Conflict):
        await run(script, idempotent=False)
    assert script.calls == 1


async def test_a_post_that_may_have_been_processed_is_never_resent() -> None:
    script = Script(transient())
    with pytest.raises(OutcomeUnknown) as caught:
        await run(script, idempotent=False)
    assert script.calls == 1
    unknown = caught.value
    assert isinstance(unknown.cause, Transient)
    assert (unknown.method, unknown.path, unknown.status, unknown.operation_id) == (
        "POST",
        "/p",
        503,
        "op-9",
    )
    assert "outcome unknown" in str(unknown)


async def test_a_post_that_was_not_processed_is_resent() -> None:
    script = Script(transient(not_processed=True), transient(not_processed=True))
    result, sleeps = await run(script, idempotent=False)
    assert result == "ok" and script.calls == 3 and len(sleeps.waits) == 2


async def test_a_post_retried_safely_then_failing_ambiguously_is_unknown() -> None:
    script = Script(transient(not_processed=True), transient())
    with pytest.raises(OutcomeUnknown):
        await run(script, idempotent=False)
    assert script.calls == 2


async def test_a_post_never_processed_stays_transient_when_retries_run_out() -> None:
    script = Script(*[transient(not_processed=True) for _ in range(10)])
    with pytest.raises(Transient):
        await run(script, idempotent=False)
    assert script.calls == 4
