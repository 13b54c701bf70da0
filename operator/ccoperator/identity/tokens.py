"""`TokenCache`: one access token shared by every caller of a client.

It hands out one token to every caller and renews it a margin before expiry (60 s, or 10% of
the lifetime for short-lived tokens). Concurrent callers that find no usable token share a
single in-flight request (`SingleFlight`). A 401 invalidates the token that got it. Where the
tokens come from (discovery, the grant) is `token_endpoint.py`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from .errors import InvalidClientCredentials
from .models import Token
from .single_flight import SingleFlight


class TokenCache:
    """One token for many callers, renewed before it expires.

    `fetch` gets a new token; it runs at most once at a time, and every caller waiting for
    a token shares its result (or its error). The renewal point is measured on `clock`
    (monotonic), so wall-clock jumps do not matter.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        clock: Callable[[], float] = time.monotonic,
        renew_margin: float = 60.0,
        renew_ratio: float = 0.1,
        refusal_hold: float = 0.0,
        on_proved: Callable[[], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._renew_margin = renew_margin
        self._renew_ratio = renew_ratio
        self._token: Token | None = None
        self._renew_at = 0.0
        self._refreshing = SingleFlight(self._refresh)
        # A refusal of these credentials is answered from memory for `refusal_hold` seconds:
        # credentials that name someone else's client must not turn into a stream of failed
        # logins under that client's name (one per pass and retry).
        self._refusal_hold = refusal_hold
        self._refused: tuple[InvalidClientCredentials, float] | None = None
        self._on_proved = on_proved
        self.proved = False  # these credentials obtained a token at least once

    def margin(self, lifetime: float) -> float:
        """How long before expiry a token is renewed."""
        return min(self._renew_margin, self._renew_ratio * lifetime)

    def current(self) -> Token | None:
        """The cached token if it is still usable (not within the renewal margin)."""
        if self._token is not None and self._clock() < self._renew_at:
            return self._token
        return None

    async def get(self) -> Token:
        token = self.current()
        if token is not None:
            return token
        if self._refused is not None and self._clock() < self._refused[1]:
            raise self._refused[0].with_traceback(None)
        return await self._refreshing()

    def forget_refusal(self) -> None:
        """Ask the token endpoint again at the next call, even within the hold (the tenant
        check, which runs once per hold period, is the one caller that retries)."""
        self._refused = None

    def invalidate(self, token: Token | None = None) -> None:
        """Forget `token` (or whatever is cached). A newer token than `token` is kept."""
        if token is None or token is self._token:
            self._token = None
            self._renew_at = 0.0

    async def _refresh(self) -> Token:
        started = self._clock()
        try:
            token = await self._fetch()
        except InvalidClientCredentials as exc:
            if self._refusal_hold > 0:
                self._refused = (exc, self._clock() + self._refusal_hold)
            raise
        self._refused = None
        self._token = token
        self._renew_at = started + token.expires_in - self.margin(token.expires_in)
        if not self.proved:
            self.proved = True
            if self._on_proved is not None:
                self._on_proved()
        return token

    async def aclose(self) -> None:
        await self._refreshing.aclose()
