"""One identity client (connection pool, token cache) per identity URL and credentials pair.

Tenant objects that act with the same administrator client against the same service share
one; a pair no tenant object uses any more is closed, after a grace period so that passes
still holding it finish their calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..api.tenants import TenantKey
from ..identity import IdentityClient
from .credentials import Credentials
from .remote import RemoteReader

log = logging.getLogger("ccoperator.tenants")

_PairKey = tuple[str, str, str, str]  # (identity url, API form, client id, secret digest)


@dataclass
class Connection:
    identity_url: str
    client_id: str
    identity: IdentityClient
    remote: RemoteReader
    users: set[TenantKey] = field(default_factory=set)
    closing: asyncio.TimerHandle | None = None

    @property
    def proved(self) -> bool:
        """These credentials obtained a token at least once."""
        return self.identity.proved


def _pair(credentials: Credentials) -> _PairKey:
    digest = hashlib.sha256(credentials.client_secret.get_secret_value().encode()).hexdigest()
    return (credentials.identity_url, credentials.api_version.value, credentials.client_id,
            digest)


# Builds the identity client (and its reader) for a credentials pair; the callback is called
# when those credentials first obtain a token.
MakeConnection = Callable[[Credentials, Callable[[], None]],
                          tuple[IdentityClient, RemoteReader]]


class ConnectionPool:
    def __init__(self, make: MakeConnection, *, close_grace: float = 60.0) -> None:
        self._make = make
        # Told when a pair's credentials first obtain a token (the registry: a namespace's
        # tenant credentials reserve their client id only from then on).
        self.proved_listeners: list[Callable[[], None]] = []
        self._grace = close_grace
        self._by_pair: dict[_PairKey, Connection] = {}
        self._of_user: dict[TenantKey, _PairKey] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._by_pair)

    def acquire(self, user: TenantKey, credentials: Credentials) -> Connection:
        pair = _pair(credentials)
        if self._of_user.get(user) not in (None, pair):
            self.release(user)
        connection = self._by_pair.get(pair)
        if connection is None:
            identity, remote = self._make(credentials, self._proved)
            connection = Connection(credentials.identity_url, credentials.client_id, identity,
                                    remote)
            self._by_pair[pair] = connection
        if connection.closing is not None:
            connection.closing.cancel()
            connection.closing = None
        connection.users.add(user)
        self._of_user[user] = pair
        return connection

    def _proved(self) -> None:
        for listener in self.proved_listeners:
            listener()

    def of(self, user: TenantKey) -> Connection | None:
        """The connection `user` holds now, if any (never creates one)."""
        pair = self._of_user.get(user)
        return self._by_pair.get(pair) if pair is not None else None

    def release(self, user: TenantKey) -> None:
        pair = self._of_user.pop(user, None)
        connection = self._by_pair.get(pair) if pair else None
        if connection is None or pair is None:
            return
        connection.users.discard(user)
        if not connection.users and connection.closing is None:
            loop = asyncio.get_running_loop()
            connection.closing = loop.call_later(self._grace, self._close, pair)

    def _close(self, pair: _PairKey) -> None:
        connection = self._by_pair.get(pair)
        if connection is None or connection.users:
            return
        del self._by_pair[pair]
        log.info("closing the identity client for %s as %s: no tenant object uses it",
                 connection.identity_url, connection.client_id)
        task = asyncio.create_task(connection.identity.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        for connection in self._by_pair.values():
            if connection.closing is not None:
                connection.closing.cancel()
            with contextlib.suppress(Exception):
                await connection.identity.aclose()
        self._by_pair.clear()
        self._of_user.clear()
