"""Retrying: capped exponential backoff with full jitter, honouring `Retry-After`.

What may be retried:
- Idempotent calls (GET, PUT, DELETE): any `Transient` failure. Resending a PUT or DELETE
  whose first attempt did take effect ends in the same state (a DELETE then sees 404).
- Non-idempotent calls (POST create client, POST add secret): only failures that prove the
  server never acted on the request (`Transient.not_processed`):
    * 429: rate limiting rejects a request before the service handles it;
    * `httpx.ConnectError`, `ConnectTimeout`, `PoolTimeout`: no connection was made, so not
      a byte of the request reached the server.
  Anything else (read timeout, dropped connection, 408, 5xx) may come after the service
  acted: a second POST could create a second client or a second secret, so the call ends in
  `OutcomeUnknown` and the caller finds out by GET.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from .errors import OutcomeUnknown, Transient

log = logging.getLogger("ccoperator.identity")

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
Random = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    """`max_retries` resends after the first attempt; delays grow from `base` to `cap`.

    A `Retry-After` longer than `max_retry_after` is not waited for in-line: the call fails
    with `Transient(retry_after=...)` so the caller can come back later without holding a
    worker for minutes.
    """

    max_retries: int = 5
    base: float = 0.2
    cap: float = 10.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rand: Random = random.random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)], attempt counted from 0."""
        ceiling = min(self.cap, self.base * (2.0 ** min(attempt, 62)))
        return rand() * ceiling

    def delay(self, attempt: int, retry_after: float | None, rand: Random = random.random) -> float:
        """The wait before the next attempt: never shorter than the server asked for."""
        jitter = self.backoff(attempt, rand)
        return jitter if retry_after is None else max(retry_after, jitter)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds: either delay-seconds or an HTTP date. None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are GMT
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    idempotent: bool,
    policy: RetryPolicy,
    describe: str,
    sleep: Sleep = asyncio.sleep,
    rand: Random = random.random,
) -> T:
    """Run `attempt` until it succeeds, a non-retryable error occurs, or retries run out.

    `attempt` raises `Transient` for retryable failures and anything else for final ones.
    For a non-idempotent call, a `Transient` that may have been processed becomes
    `OutcomeUnknown` at once.
    """
    retries = 0
    while True:
        try:
            return await attempt()
        except Transient as exc:
            # The error's message starts with the same "METHOD path: "; say it once.
            detail = exc.message.removeprefix(f"{describe}: ")
            if not idempotent and not exc.not_processed:
                raise _outcome_unknown(exc, describe, detail) from None
            if _gives_up(exc, retries, policy, describe, detail):
                raise
            wait = policy.delay(retries, exc.retry_after, rand)
            retries += 1
            log.warning(
                "%s: retry %d/%d in %.2fs after %s",
                describe,
                retries,
                policy.max_retries,
                wait,
                detail,
                extra=_fields(exc),
            )
        await sleep(wait)


def _outcome_unknown(exc: Transient, describe: str, detail: str) -> OutcomeUnknown:
    """What a non-idempotent call ends in when the server may have acted on it."""
    return OutcomeUnknown(
        f"{describe}: outcome unknown ({detail}); not resent, "
        "look it up before trying again",
        cause=exc,
        method=exc.method,
        path=exc.path,
        status=exc.status,
        operation_id=exc.operation_id,
        error=exc.error,
        reason=exc.reason,
        resolution=exc.resolution,
    )


def _gives_up(
    exc: Transient, retries: int, policy: RetryPolicy, describe: str, detail: str
) -> bool:
    """Whether `exc` ends the call (retries spent, or a `Retry-After` too long to wait
    in-line); logs why when it does."""
    if retries >= policy.max_retries:
        log.warning(
            "%s: giving up after %d attempts: %s",
            describe,
            retries + 1,
            detail,
            extra=_fields(exc),
        )
        return True
    if exc.retry_after is not None and exc.retry_after > policy.max_retry_after:
        log.warning(
            "%s: server asks to retry after %.1fs, longer than %.1fs; giving up now: %s",
            describe,
            exc.retry_after,
            policy.max_retry_after,
            detail,
            extra=_fields(exc),
        )
        return True
    return False


def _fields(exc: Transient) -> dict[str, object]:
    return {
        "identity_method": exc.method,
        "identity_path": exc.path,
        "identity_status": exc.status,
        "identity_operation_id": exc.operation_id,
    }
