"""Tenant objects' status: Ready when their credentials obtain a token and the tenant answers.

One task checks every tenant object when it appears or changes and again every period (which
also picks up a changed credentials Secret without a restart), and writes status only when
the outcome changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ..api.conditions import NEEDS_USER, READY, STALLED, TenantReason
from ..api.tenants import TenantKey
from ..identity import (
    ClientNotFound,
    Forbidden,
    IdentityError,
    InvalidClientCredentials,
    TenantNotFound,
    Unauthorized,
)
from ..kube.api import KubeApi, KubeApiError, KubeConflict
from ..metrics import observe_tenants
from .credentials import CredentialsProblem
from .registry import TenantRegistry

log = logging.getLogger("ccoperator.tenants")

# A client id that is asked for only to learn that the tenant answers (404 client, not 404
# tenant); if a client of that name exists, the tenant answers too.
PROBE_CLIENT_ID = "ccoperator-tenant-probe"
# A list of the tenant that succeeded this recently, with the same credentials, stands in for
# the probe: a new leader's verification lists every tenant it holds clients in just before
# the checker (which starts with it) gets to them.
LIST_AS_PROBE_SECONDS = 15.0


class TenantChecker:
    def __init__(self, registry: TenantRegistry, kube: KubeApi, *, period: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 leading: Callable[[], bool] = lambda: True) -> None:
        self._registry = registry
        # Only the leader checks (identity calls) and writes tenant status; a standby waits.
        self._leading = leading
        self._kube = kube
        self._period = period
        self._clock = clock
        self._due: dict[TenantKey, float] = {}
        self._wake = asyncio.Event()
        self._ready: dict[TenantKey, bool] = {}
        registry.tenant_listeners.append(self.check_soon)

    def check_soon(self, key: TenantKey) -> None:
        self._due[key] = 0.0
        self._wake.set()

    async def run(self) -> None:
        for key in self._registry.tenant_keys():
            self._due.setdefault(key, 0.0)
        while True:
            self._wake.clear()
            if not self._leading():
                await asyncio.sleep(1.0)
                continue
            now = time.monotonic()
            due = [k for k, t in self._due.items() if t <= now]
            for key in due:
                self._due[key] = now + self._period
            if due:
                await asyncio.gather(*(self._check_logged(k) for k in due))
                self._publish()
                # The operator's own credentials are re-read on their own clock: a changed
                # id is seen here at the latest.
                self._registry.check_reservations()
                continue
            delay = min(self._due.values(), default=now + self._period) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.05))

    async def _check_logged(self, key: TenantKey) -> None:
        try:
            await self.check(key)
        except Exception:
            log.exception("%s: checking the tenant failed", key)

    async def check(self, key: TenantKey) -> None:
        obj = self._registry.get(key)
        if obj is None:
            self._due.pop(key, None)
            self._ready.pop(key, None)
            return
        if obj.spec is None:
            return
        await self._registry.refresh_credentials(key)
        ready, reason, message = await self._probe(key, obj.spec.tenant_id)
        self._ready[key] = ready
        await self._write(key, obj.generation, ready, reason, message)

    async def _probe(self, key: TenantKey, tenant_id: str) -> tuple[bool, TenantReason, str]:
        connection = await self._registry.connection(key)
        if isinstance(connection, CredentialsProblem):
            return False, connection.reason, connection.message
        ready = (True, TenantReason.TENANT_READY, f"Client {connection.client_id!r} obtains "
                 f"tokens and tenant {tenant_id!r} answers.")
        if connection.remote.answered_within(tenant_id, min(self._period, LIST_AS_PROBE_SECONDS)):
            return ready
        # Refused credentials are held refused for one period (passes ask no token meanwhile);
        # this check is when they are tried again.
        connection.identity.forget_token_refusal()
        try:
            await connection.identity.get_client(tenant_id, PROBE_CLIENT_ID)
        except ClientNotFound:
            pass
        except TenantNotFound:
            return False, TenantReason.TENANT_NOT_FOUND, (
                f"Tenant {tenant_id!r} does not exist at {connection.identity_url}.")
        except (Unauthorized, InvalidClientCredentials) as exc:
            return False, TenantReason.UNAUTHORIZED, (
                f"The identity service refused client {connection.client_id!r} ({exc}); "
                "check the credentials Secret.")
        except Forbidden as exc:
            return False, TenantReason.UNAUTHORIZED, (
                f"Client {connection.client_id!r} may not manage clients in tenant "
                f"{tenant_id!r} ({exc}); grant it Account Administrator there.")
        except IdentityError as exc:
            return False, TenantReason.IDENTITY_UNAVAILABLE, (
                f"The identity service at {connection.identity_url} did not answer "
                f"reliably ({exc}).")
        return ready

    async def _write(self, key: TenantKey, generation: int, ready: bool,
                     reason: TenantReason, message: str) -> None:
        status = self._registry.status_of(key)
        previous = next((c for c in status.get("conditions") or []
                         if c.get("type") == READY), None)
        value = "True" if ready else "False"
        if (previous is not None and previous.get("status") == value
                and previous.get("reason") == reason.value
                and previous.get("message") == message
                and status.get("observedGeneration") == generation):
            return
        since = (previous.get("lastTransitionTime")
                 if previous is not None and previous.get("status") == value
                 else self._clock().isoformat(timespec="seconds").replace("+00:00", "Z"))
        condition = {"type": READY, "status": value, "reason": reason.value,
                     "message": message, "lastTransitionTime": since,
                     "observedGeneration": generation}
        conditions = [condition]
        if not ready and reason in NEEDS_USER:
            # kstatus (Flux) reads Failed only from Stalled=True (conditions.stalled_condition).
            conditions.append({**condition, "type": STALLED, "status": "True"})
        try:
            await self._kube.patch_object_status(key.status_path(), {
                "observedGeneration": generation, "conditions": conditions})
        except (KubeConflict, KubeApiError) as exc:
            log.warning("%s: could not write status: %s", key, exc)
            self._due[key] = time.monotonic() + 5.0
            return
        if not ready:
            log.warning("%s: %s: %s", key, reason.value, message)

    def _publish(self) -> None:
        counts: dict[tuple[str, bool], int] = {}
        for key, ready in self._ready.items():
            counts[(key.kind, ready)] = counts.get((key.kind, ready), 0) + 1
        observe_tenants(counts)
