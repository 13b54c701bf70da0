"""Leader election on a `coordination.k8s.io/v1` Lease, through `kubernetes.leaderelection`.

The official client's `LeaderElection` runs in a thread (its calls are synchronous). It is
bridged to asyncio here, and fenced: the library stops leading only when it has failed to
renew for a whole renew deadline, counted from its last *attempt*, and a process that was
paused (SIGSTOP, a stalled VM) resumes believing it still leads. So this process never asks
the library "am I leading?" before acting; it asks the monotonic clock:

    leading  <=>  now < start of the last successful acquire/renew + renew_deadline

Another candidate can take the lease only after it has seen our last record unchanged for a
whole lease duration, and it saw that record no earlier than our renew attempt began; since
renew_deadline < lease_duration, we stop acting at least (lease - renew) seconds before
anyone else can start. `check()` is called right before every Kubernetes write and every
identity call (kube.http, identity transport), so a resumed old leader writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from .. import metrics

log = logging.getLogger("ccoperator.leader")


class NotLeading(Exception):
    """This process does not (or no longer) hold the lease: it must not act."""


@dataclass(frozen=True)
class ElectionConfig:
    name: str
    namespace: str
    lease_duration: float
    renew_deadline: float
    retry_period: float
    identity: str = ""

    def validate(self) -> None:
        # The library calls sys.exit on these; say it clearly before it gets the chance.
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("lease_duration must be longer than renew_deadline")
        if not self.renew_deadline > 1.2 * self.retry_period:
            raise ValueError("renew_deadline must be longer than 1.2 x retry_period")
        if self.retry_period < 1 or self.renew_deadline < 1 or self.lease_duration < 1:
            raise ValueError("lease_duration, renew_deadline and retry_period must be >= 1s")


def default_identity() -> str:
    """Unique per process, readable per pod (controller-runtime: hostname_uuid)."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}_{uuid.uuid4()}"


class _Timed:
    """An API object whose calls all carry a request timeout (the official client has none
    by default: a hung renew would keep the elector thread from ever trying again)."""

    def __init__(self, api: Any, timeout: float) -> None:
        self._api = api
        self._timeout = timeout

    def __getattr__(self, name: str) -> Any:
        return functools.partial(getattr(self._api, name), _request_timeout=self._timeout)


class _FencedLeaseLock(LeaseLock):
    """The library's Lease lock, telling when each successful write of our record began."""

    def __init__(self, name: str, namespace: str, identity: str, api: Any,
                 on_written: Callable[[float], None]) -> None:
        super().__init__(name, namespace, identity)  # type: ignore[no-untyped-call]
        self.api_instance = api
        self._on_written = on_written
        self._attempt_started = 0.0
        # Released: the elector thread (which cannot be interrupted) must never take the
        # lease again. The mutex keeps a renew and the release from interleaving.
        self.closed = False
        self.mutex = threading.Lock()

    def get(self, name: str, namespace: str) -> Any:
        # Every try (acquire or renew) starts with this read: the conservative start.
        self._attempt_started = time.monotonic()
        return super().get(name, namespace)  # type: ignore[no-untyped-call]

    def create(self, name: str, namespace: str, election_record: Any) -> bool:
        with self.mutex:
            if self.closed:
                return False
            return self._create(name, namespace, election_record)

    def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        with self.mutex:
            if self.closed:
                return False
            return self._update(name, namespace, updated_record)

    def release(self) -> None:
        """Give the lease up (holder cleared), as client-go's ReleaseOnCancel does: the
        standby takes it at its next try instead of waiting out a whole lease."""
        with self.mutex:
            self.closed = True
            lease = self.api_instance.read_namespaced_lease(self.name, self.namespace)
            if lease.spec is None or lease.spec.holder_identity != self.identity:
                return
            lease.spec.holder_identity = None
            self.api_instance.replace_namespaced_lease(self.name, self.namespace, lease)

    def _create(self, name: str, namespace: str, election_record: Any) -> bool:
        ok = bool(super().create(name, namespace, election_record))  # type: ignore[no-untyped-call]
        if ok:
            self._on_written(self._attempt_started)
        return ok

    def _update(self, name: str, namespace: str, updated_record: Any) -> bool:
        ok = bool(super().update(name, namespace, updated_record))  # type: ignore[no-untyped-call]
        if ok and updated_record.holder_identity == self.identity:
            self._on_written(self._attempt_started)
        return ok


class Leadership:
    """Whether this process may act now. Without election it always may."""

    def __init__(self, config: ElectionConfig | None,
                 configuration: k8s.Configuration | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._configuration = configuration
        self._clock = clock
        self._valid_until = math.inf if config is None else -math.inf
        self.identity = (config.identity or default_identity()) if config else "standalone"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock: _FencedLeaseLock | None = None

    @property
    def enabled(self) -> bool:
        return self.config is not None

    def leading(self) -> bool:
        return self._clock() < self._valid_until

    def check(self) -> None:
        """Raise NotLeading unless this process may write right now."""
        if not self.leading():
            raise NotLeading(f"{self.identity} does not hold the lease")

    def remaining(self) -> float:
        return self._valid_until - self._clock()

    # ------------------------------------------------------------- the elector thread

    def _written(self, started: float) -> None:
        assert self.config is not None
        self._valid_until = started + self.config.renew_deadline
        self._poke()

    def _stopped(self) -> None:
        # The library gave up renewing; our own deadline has passed already or soon will.
        self._valid_until = -math.inf
        self._poke()

    def _poke(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._changed.set)

    def _elect_forever(self) -> None:
        assert self.config is not None and self._configuration is not None
        cfg = self.config
        api = _Timed(k8s.CoordinationV1Api(k8s.ApiClient(self._configuration)),
                     timeout=max(1.0, cfg.retry_period))
        while not self._stop.is_set():
            lock = _FencedLeaseLock(cfg.name, cfg.namespace, self.identity, api, self._written)
            self._lock = lock
            election = leaderelection.LeaderElection(electionconfig.Config(  # type: ignore[no-untyped-call]
                lock=lock,
                lease_duration=int(cfg.lease_duration),
                renew_deadline=int(cfg.renew_deadline),
                retry_period=int(cfg.retry_period),
                onstarted_leading=lambda: None,  # _written already said so
                onstopped_leading=self._stopped,
            ))
            try:
                election.run()  # type: ignore[no-untyped-call] # returns when leadership is lost; then stand again
            except Exception:
                log.exception("leader election failed; standing again")
                self._stopped()
                self._stop.wait(cfg.retry_period)

    async def release(self) -> None:
        """Stop acting at once, then give the lease up (a clean shutdown: rolling updates and
        drains hand over without waiting out the lease). Call after in-flight work stopped."""
        self._valid_until = -math.inf
        self._stop.set()
        lock = self._lock
        if lock is None:
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(lock.release), timeout=5.0)
            log.info("%s released the lease", self.identity)
        except Exception as exc:  # the API server is gone: the lease simply runs out
            log.warning("could not release the lease: %s", exc)

    # ------------------------------------------------------------- the asyncio side

    async def run(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        """Call `on_started`/`on_stopped` as leadership comes and goes, until cancelled."""
        self._loop = asyncio.get_running_loop()
        if self.config is not None:
            self._thread = threading.Thread(target=self._elect_forever, name="leader-election",
                                            daemon=True)
            self._thread.start()
            log.info("standing for leadership of Lease %s/%s as %s", self.config.namespace,
                     self.config.name, self.identity)
        was = False
        try:
            while True:
                now = self.leading()
                if now and not was:
                    log.info("%s started leading", self.identity)
                    metrics.LEADER.set(1)
                    on_started()
                elif was and not now:
                    log.warning("%s stopped leading", self.identity)
                    metrics.LEADER.set(0)
                    on_stopped()
                was = now
                self._changed.clear()
                # Wake at the deadline at the latest: a paused renew thread says nothing.
                timeout = min(max(self.remaining(), 0.0), 1.0) if now else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=timeout)
        finally:
            self._stop.set()
            metrics.LEADER.set(0)
