"""The token cache: renewal margin, one shared request, invalidation (no HTTP here)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from ccoperator.identity import InvalidClientCredentials, Token, Transient
from ccoperator.identity.tokens import TokenCache
from pydantic import SecretStr


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Issues numbered tokens; can be held open or made to fail."""

    def __init__(self, lifetime: float = 3600.0) -> None:
        self.lifetime = lifetime
        self.issued = 0
        self.gate: asyncio.Event | None = None
        self.fail_next = False

    async def __call__(self) -> Token:
        self.issued += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise Transient("POST /identity/connect/token: 503 server error", status=503)
        return Token(
            access_token=SecretStr(f"token-{self.issued}"),
            expires_in=self.lifetime,
            expires_at=datetime.now(UTC),
        )


def value(token: Token) -> str:
    return token.access_token.get_secret_value()


def test_margin_is_60s_or_a_tenth_of_short_lifetimes() -> None:
    cache = TokenCache(Issuer())
    assert cache.margin(3600) == 60
    assert cache.margin(300) == 30
    assert cache.margin(5) == 0.5


async def test_token_is_cached_until_the_margin_then_renewed() -> None:
    clock, issuer = Clock(), Issuer(lifetime=3600)
    cache = TokenCache(issuer, clock=clock)
    assert value(await cache.get()) == "token-1"
    clock.now += 3539
    assert value(await cache.get()) == "token-1"
    clock.now += 1  # 60 s before expiry
    assert value(await cache.get()) == "token-2"
    assert issuer.issued == 2


async def test_short_tokens_renew_at_ten_percent() -> None:
    clock, issuer = Clock(), Issuer(lifetime=10)
    cache = TokenCache(issuer, clock=clock)
    await cache.get()
    clock.now += 8.9
    assert value(await cache.get()) == "token-1"
    clock.now += 0.2
    assert value(await cache.get()) == "token-2"


async def test_concurrent_callers_share_one_request() -> None:
    issuer = Issuer()
    issuer.gate = asyncio.Event()
    cache = TokenCache(issuer)
    waiters = [asyncio.create_task(cache.get()) for _ in range(50)]
    await asyncio.sleep(0)
    issuer.gate.set()
    tokens = await asyncio.gather(*waiters)
    assert issuer.issued == 1
    assert {value(t) for t in tokens} == {"token-1"}


async def test_a_failure_is_shared_and_the_next_call_asks_again() -> None:
    issuer = Issuer()
    issuer.fail_next = True
    issuer.gate = asyncio.Event()
    cache = TokenCache(issuer)
    waiters = [asyncio.create_task(cache.get()) for _ in range(5)]
    await asyncio.sleep(0)
    issuer.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, Transient) for r in results)
    assert issuer.issued == 1
    assert value(await cache.get()) == "token-2"


async def test_cancelling_one_waiter_does_not_cancel_the_shared_request() -> None:
    issuer = Issuer()
    issuer.gate = asyncio.Event()
    cache = TokenCache(issuer)
    first = asyncio.create_task(cache.get())
    second = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    first.cancel()
    issuer.gate.set()
    assert value(await second) == "token-1"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert issuer.issued == 1


async def test_invalidate_drops_only_the_token_that_failed() -> None:
    issuer = Issuer()
    cache = TokenCache(issuer)
    old = await cache.get()
    cache.invalidate(old)
    new = await cache.get()
    assert value(new) == "token-2"
    cache.invalidate(old)  # a late 401 for the old token keeps the new one
    assert await cache.get() is new
    cache.invalidate()
    assert value(await cache.get()) == "token-3"


async def test_aclose_cancels_a_pending_request() -> None:
    issuer = Issuer()
    issuer.gate = asyncio.Event()
    cache = TokenCache(issuer)
    waiter = asyncio.create_task(cache.get())
    await asyncio.sleep(0)
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter


class Refusing(Issuer):
    """Refuses the credentials until `accept` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.accept = False

    async def __call__(self) -> Token:
        if not self.accept:
            self.issued += 1
            raise InvalidClientCredentials("POST /identity/connect/token: 400 invalid_client",
                                           status=400)
        return await super().__call__()


async def test_a_refusal_is_held_for_the_hold_then_asked_again() -> None:
    clock, issuer = Clock(), Refusing()
    cache = TokenCache(issuer, clock=clock, refusal_hold=60.0)
    for _ in range(5):  # every pass and retry within the hold: no new request
        with pytest.raises(InvalidClientCredentials):
            await cache.get()
    assert issuer.issued == 1
    clock.now += 60.0
    with pytest.raises(InvalidClientCredentials):
        await cache.get()
    assert issuer.issued == 2
    issuer.accept = True
    cache.forget_refusal()  # the tenant check tries again whenever it runs
    assert value(await cache.get()) == "token-3"


async def test_without_a_hold_every_call_asks() -> None:
    issuer = Refusing()
    cache = TokenCache(issuer)
    for _ in range(3):
        with pytest.raises(InvalidClientCredentials):
            await cache.get()
    assert issuer.issued == 3


async def test_proved_once_the_first_token_is_obtained() -> None:
    issuer, heard = Refusing(), []
    cache = TokenCache(issuer, on_proved=lambda: heard.append(1))
    with pytest.raises(InvalidClientCredentials):
        await cache.get()
    assert not cache.proved and heard == []
    issuer.accept = True
    await cache.get()
    cache.invalidate()
    await cache.get()
    assert cache.proved and heard == [1]  # told once
