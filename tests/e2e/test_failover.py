"""Two replicas with leader election over the real control plane and the simulator.

- a standby writes nothing (to Kubernetes or the identity service) until it leads;
- SIGKILL the leader: the standby takes over and verifies every resource again;
- fencing: SIGSTOP the leader mid-creates, past its lease; the standby takes over and finishes;
  SIGCONT the old leader: it writes nothing, and nothing is duplicated;
- exactly once across a failover: the leader dies at each dangerous step of a create.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import threading
import time
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from .support import Kube, OperatorProcess, default_client_id, token_status, wait_for
from .test_lifecycle import TENANT, spec

LEASE = "ccoperator-leader"
# Short, so the tests are quick; the same ratios as the defaults (15s / 10s / 2s).
TIMINGS = {"CCOPERATOR_LEASE_DURATION": "4s", "CCOPERATOR_RENEW_DEADLINE": "3s",
           "CCOPERATOR_RETRY_PERIOD": "1s"}


def replica(operator_factory: Any, namespace: str, name: str, **env: str) -> OperatorProcess:
    process: OperatorProcess = operator_factory(
        CCOPERATOR_LEADER_ELECTION="true", CCOPERATOR_NAMESPACE=namespace, HOSTNAME=name,
        CCOPERATOR_TENANT_CHECK_PERIOD="1h", **TIMINGS, **env)
    return process


def leader_of(k8s_api: Any, namespace: str) -> str | None:
    try:
        lease = k8s.CoordinationV1Api(k8s_api).read_namespaced_lease(LEASE, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    holder = lease.spec.holder_identity if lease.spec else None
    return str(holder).split("_")[0] if holder else None


def leads(process: OperatorProcess) -> bool:
    try:
        return process.metric("ccoperator_leader") == 1
    except Exception:  # not serving yet
        return False


def signal_group(process: OperatorProcess, sig: signal.Signals) -> None:
    assert process.proc is not None
    os.killpg(process.proc.pid, sig)


def identity_calls(sim: Any, since: int) -> list[dict[str, Any]]:
    return [c for c in sim.admin.calls(since=since) if c["Route"] != "token"]


def last_seq(sim: Any) -> int:
    calls = sim.admin.calls()
    return int(calls[-1]["Seq"]) if calls else 0


def snapshot(kube: Kube, namespace: str) -> dict[str, Any]:
    """Every object the operator writes in the namespace, by resourceVersion."""
    cccs = kube.custom.list_namespaced_custom_object(
        "identity.ccoperator.io", "v1alpha1", namespace, "clientcredentialclients")["items"]
    secrets = kube.core.list_namespaced_secret(namespace).items
    events = kube.core.list_namespaced_event(namespace).items
    return {
        "ccc": {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in cccs},
        "secrets": {s.metadata.name: s.metadata.resource_version for s in secrets},
        "events": sorted(e.metadata.name for e in events),
    }


def assert_each_once(kube: Kube, namespace: str, sim: Any, sim_api: Any,
                     uids: dict[str, str]) -> None:
    """Exactly one remote client per resource, and every Secret authenticates."""
    # Every resource Ready first: the remote list is only final once each create has landed.
    ready = {name: kube.wait_ready(namespace, name, timeout=60) for name in uids}
    remote = [c["ClientId"] for c in sim_api.list_clients(TENANT)
              if c["ClientId"] != sim.admin_client_id]
    assert sorted(remote) == sorted(default_client_id(namespace, n) for n in uids)
    for name in uids:
        obj = ready[name]
        client_id = default_client_id(namespace, name)
        assert obj["status"]["clientId"] == client_id
        data = kube.secret_data(namespace, f"{name}-credentials")
        assert data is not None, name
        assert token_status(sim.token_url, client_id, data["clientSecret"]) == 200, name
        held = [s["Id"] for s in sim_api.secrets(TENANT, client_id)]
        assert held == [obj["status"]["currentSecret"]["id"]], (name, held)


class OtherLeader:
    """A live leader that is not ours: holds the Lease and renews it every half second."""

    def __init__(self, k8s_api: Any, namespace: str) -> None:
        self.api = k8s.CoordinationV1Api(k8s_api)
        self.namespace = namespace
        now = dt.datetime.now(dt.UTC)
        self.api.create_namespaced_lease(namespace, k8s.V1Lease(
            metadata=k8s.V1ObjectMeta(name=LEASE),
            spec=k8s.V1LeaseSpec(holder_identity="someone-else", lease_duration_seconds=4,
                                 acquire_time=now, renew_time=now)))
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._renew, daemon=True)
        self.thread.start()

    def _renew(self) -> None:
        while not self.stopped.wait(0.5):
            lease = self.api.read_namespaced_lease(LEASE, self.namespace)
            lease.spec.renew_time = dt.datetime.now(dt.UTC)
            with contextlib.suppress(ApiException):  # a 409 against the standby's read
                self.api.replace_namespaced_lease(LEASE, self.namespace, lease)

    def release(self) -> None:
        """Stop renewing and give the lease up, as a leader shutting down cleanly does."""
        self.stopped.set()
        self.thread.join()
        lease = self.api.read_namespaced_lease(LEASE, self.namespace)
        lease.spec.holder_identity = None
        self.api.replace_namespaced_lease(LEASE, self.namespace, lease)


def test_a_standby_writes_nothing_until_it_leads(operator_factory: Any, kube: Kube,
                                                 k8s_api: Any, namespace: str, sim: Any,
                                                 sim_api: Any) -> None:
    other = OtherLeader(k8s_api, namespace)
    mark = last_seq(sim)
    standby = replica(operator_factory, namespace, "standby").start()  # live, not leading
    uids = {f"app-{i}": kube.create_ccc(namespace, f"app-{i}", spec())["metadata"]["uid"]
            for i in range(3)}
    time.sleep(6)  # more than a lease of ours: a standby that acted would have by now
    assert not leads(standby)
    for name in uids:
        obj = kube.get_ccc(namespace, name)
        assert obj is not None
        assert not obj["metadata"].get("finalizers"), "a standby added a finalizer"
        # The CRDs' default (observedGeneration 0) is all a status may hold: no pass wrote.
        assert obj.get("status") in (None, {"observedGeneration": 0}), "a standby wrote status"
        assert kube.secret(namespace, f"{name}-credentials") is None
    assert kube.events(namespace) == []
    assert identity_calls(sim, mark) == []

    # The holder goes away (its lease is released): the standby takes over and acts.
    other.release()
    wait_for(lambda: leads(standby), timeout=20, what="the standby leads")
    assert leader_of(k8s_api, namespace) == "standby"
    assert_each_once(kube, namespace, sim, sim_api, uids)


def test_leader_killed_standby_takes_over_and_verifies_all(
        operator_factory: Any, kube: Kube, k8s_api: Any, namespace: str, sim: Any,
        sim_api: Any) -> None:
    count = 120
    a = replica(operator_factory, namespace, "replica-a").start()
    wait_for(lambda: leads(a), timeout=20, what="replica-a leads")
    b = replica(operator_factory, namespace, "replica-b").start()
    uids = {f"app-{i}": kube.create_ccc(namespace, f"app-{i}", spec())["metadata"]["uid"]
            for i in range(count)}
    for name in uids:
        kube.wait_ready(namespace, name, timeout=120)
    assert not leads(b)
    assert b.metric("ccoperator_reconciles_total") == 0  # the standby never reconciled

    killed = time.monotonic()
    a.kill()
    wait_for(lambda: leads(b), timeout=30, interval=0.1, what="replica-b leads")
    takeover = time.monotonic() - killed
    wait_for(lambda: b.metric("ccoperator_reconciles_total", cause="resume") >= count,
             timeout=120, interval=0.2, what="every resource verified by replica-b")
    verified = time.monotonic() - killed
    print(f"\nfailover over {count}: takeover {takeover:.1f}s, all verified {verified:.1f}s")
    # The lease was not released (SIGKILL): the standby waits out one lease (4s) at most
    # plus a retry period, then verifies from one tenant list.
    assert takeover < 4 + 1 + 3
    assert b.metric("ccoperator_reconciles_total", result="ready") >= count
    assert_each_once(kube, namespace, sim, sim_api, uids)


def test_fencing_a_paused_leader_writes_nothing_after_it_resumes(
        operator_factory: Any, kube: Kube, k8s_api: Any, namespace: str, sim: Any,
        sim_api: Any) -> None:
    a = replica(operator_factory, namespace, "replica-a").start()
    wait_for(lambda: leads(a), timeout=20, what="replica-a leads")
    b = replica(operator_factory, namespace, "replica-b").start()
    # Slow creates: when replica-a is paused, several are in flight and answered while it
    # sleeps; resumed, each of those passes would go on to write a Secret and status.
    sim.admin.add_fault(route="clients.create", latency=1.5)
    uids = {f"app-{i}": kube.create_ccc(namespace, f"app-{i}", spec())["metadata"]["uid"]
            for i in range(20)}
    wait_for(lambda: any(c["Route"] == "clients.create" for c in sim.admin.calls()),
             timeout=30, what="creates in flight")
    time.sleep(0.5)
    signal_group(a, signal.SIGSTOP)
    try:
        wait_for(lambda: leads(b), timeout=30, interval=0.1, what="replica-b leads")
        assert leader_of(k8s_api, namespace) == "replica-b"
        sim.admin.clear_faults()
        for name in uids:
            kube.wait_ready(namespace, name, timeout=120)
        time.sleep(2)  # let replica-b's last writes land
        before = snapshot(kube, namespace)
        mark = last_seq(sim)
    finally:
        signal_group(a, signal.SIGCONT)
    # Resumed, replica-a still believes it led: its passes resume too.
    time.sleep(8)
    assert not leads(a)
    assert leader_of(k8s_api, namespace) == "replica-b"
    assert snapshot(kube, namespace) == before, "something was written after SIGCONT"
    assert identity_calls(sim, mark) == [], "an identity call after SIGCONT"
    assert_each_once(kube, namespace, sim, sim_api, uids)


@pytest.mark.parametrize("failpoint", ["after-create-answer", "after-secret-write"])
def test_exactly_once_when_the_leader_dies_mid_create(
        operator_factory: Any, kube: Kube, k8s_api: Any, namespace: str, sim: Any,
        sim_api: Any, failpoint: str) -> None:
    a = replica(operator_factory, namespace, "replica-a",
                CCOPERATOR_FAILPOINTS=failpoint).start()
    wait_for(lambda: leads(a), timeout=20, what="replica-a leads")
    b = replica(operator_factory, namespace, "replica-b").start()
    uid = kube.create_ccc(namespace, "app", spec())["metadata"]["uid"]
    assert a.wait_exit(timeout=60) == -9  # SIGKILLed itself at the failpoint
    wait_for(lambda: leads(b), timeout=30, interval=0.1, what="replica-b leads")
    assert_each_once(kube, namespace, sim, sim_api, {"app": uid})
    creates = [c for c in sim.admin.calls() if c["Route"] == "clients.create"]
    assert len({c["ClientId"] for c in creates}) == 1
