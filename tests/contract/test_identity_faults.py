"""Contract: each fault mode of the simulator and what the client makes of it.

Idempotent calls (GET, PUT, DELETE) are retried through timeouts, 503s and 429s; a create
is never resent once it may have reached the server (only a 429, which proves it did not).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from ccoperator.identity import (
    ApiVersion,
    ClientCreate,
    ClientNotFound,
    IdentityClient,
    OutcomeUnknown,
    SecretCreate,
    Transient,
)

from .identity_helpers import TENANT_MEMBER, Sim, calls_of, config, counter, new_client, role_id


async def test_latency_beyond_the_timeout_is_retried_for_a_get(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    async with IdentityClient(config(sim, read_timeout=0.5, api_version=form)) as api:
        await api.list_clients(tenant)  # token in hand
        sim.admin.add_fault("clients.get", latency=1.5, times=1)
        started = time.monotonic()
        got = await api.get_client(tenant, existing)
        assert time.monotonic() - started < 1.5  # did not wait for the slow answer
    assert got.client_id == existing
    # the simulator logs a call when it answers: let the abandoned one finish first
    await asyncio.sleep(1.5)
    gets = calls_of(sim, "clients.get")
    assert len(gets) == 2
    assert [g["Status"] for g in gets if g["Fault"] is None] == [200]


async def test_a_503_at_a_rate_is_retried(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    async with IdentityClient(config(sim, max_retries=12, api_version=form)) as api:
        await api.list_clients(tenant)
        sim.admin.add_fault("clients.get", status=503, rate=0.3)
        results = await asyncio.gather(*(api.get_client(tenant, existing) for _ in range(30)))
    assert len(results) == 30
    assert counter(sim, "clients.get", 503) > 0
    assert counter(sim, "clients.get", 200) == 30


async def test_503s_that_outlast_the_retries_are_transient(
    sim: Sim, form: ApiVersion, tenant: str
) -> None:
    async with IdentityClient(config(sim, max_retries=2, api_version=form)) as api:
        await api.list_clients(tenant)
        sim.admin.add_fault("clients.list", status=503)
        with pytest.raises(Transient) as caught:
            await api.list_clients(tenant)
    assert caught.value.status == 503 and caught.value.operation_id
    assert counter(sim, "clients.list", 503) == 3


async def test_429_with_retry_after_is_honoured(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    async with IdentityClient(config(sim, api_version=form)) as api:
        await api.list_clients(tenant)
        sim.admin.add_fault("clients.get", status=429, retry_after=1, times=1)
        started = time.monotonic()
        await api.get_client(tenant, existing)
        waited = time.monotonic() - started
    assert waited >= 1.0
    assert waited < 3.0
    assert [c["Status"] for c in calls_of(sim, "clients.get")] == [429, 200]


async def test_a_dropped_create_is_an_unknown_outcome_resolved_by_get(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    sim.admin.add_fault("clients.create", drop=True, times=1)
    body = ClientCreate(
        client_id="dropped-one", name="d", role_ids=[role_id(sim, tenant, TENANT_MEMBER)]
    )
    with pytest.raises(OutcomeUnknown) as caught:
        await api.create_client(tenant, body)
    assert caught.value.method == "POST"
    assert len(calls_of(sim, "clients.create")) == 1  # not resent
    # the caller looks: it was created (and its secret is lost: rotate via the secrets API)
    assert (await api.get_client(tenant, "dropped-one")).client_id == "dropped-one"
    added = await api.add_secret(tenant, "dropped-one", SecretCreate(description="recovered"))
    assert added.value is not None
    await api.request_token("dropped-one", added.value)


async def test_a_create_answered_503_is_never_resent(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    sim.admin.add_fault("clients.create", status=503, retry_after=0, times=1)
    body = ClientCreate(
        client_id="not-made", name="n", role_ids=[role_id(sim, tenant, TENANT_MEMBER)]
    )
    with pytest.raises(OutcomeUnknown) as caught:
        await api.create_client(tenant, body)
    assert isinstance(caught.value.cause, Transient)
    assert len(calls_of(sim, "clients.create")) == 1
    with pytest.raises(ClientNotFound):  # the simulator did not apply it
        await api.get_client(tenant, "not-made")
    assert (await api.create_client(tenant, body)).client_id == "not-made"


async def test_a_create_that_times_out_is_never_resent(
    sim: Sim, form: ApiVersion, tenant: str
) -> None:
    async with IdentityClient(config(sim, read_timeout=0.5, api_version=form)) as api:
        await api.list_clients(tenant)
        sim.admin.add_fault("clients.create", latency=1.0, times=1)
        body = ClientCreate(
            client_id="slow-one", name="s", role_ids=[role_id(sim, tenant, TENANT_MEMBER)]
        )
        with pytest.raises(OutcomeUnknown) as caught:
            await api.create_client(tenant, body)
        assert "ReadTimeout" in str(caught.value)
        await asyncio.sleep(1.0)  # the simulator finishes the call it was given
        assert (await api.get_client(tenant, "slow-one")).client_id == "slow-one"
    assert len(calls_of(sim, "clients.create")) == 1


async def test_a_create_answered_429_is_resent(sim: Sim, api: IdentityClient, tenant: str) -> None:
    sim.admin.add_fault("clients.create", status=429, retry_after=0, times=2)
    created = await new_client(
        api, tenant, [role_id(sim, tenant, TENANT_MEMBER)], client_id="after-429"
    )
    assert created.client_id == "after-429"
    assert [c["Status"] for c in calls_of(sim, "clients.create")] == [429, 429, 201]


async def test_a_dropped_add_secret_is_an_unknown_outcome(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    sim.admin.add_fault("secrets.add", drop=True, times=1)
    with pytest.raises(OutcomeUnknown):
        await api.add_secret(tenant, created.client_id, SecretCreate(description="lost"))
    assert len(calls_of(sim, "secrets.add")) == 1
    secrets = await api.list_secrets(tenant, created.client_id)
    assert sorted(s.description or "" for s in secrets) == ["first", "lost"]


async def test_idempotent_writes_are_retried(sim: Sim, api: IdentityClient, tenant: str) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    sim.admin.add_fault("clients.update", status=503, times=2)
    dto = created.to_dto().model_copy(update={"name": "after 503s"})
    assert (await api.update_client(tenant, created.client_id, dto)).name == "after 503s"
    assert [c["Status"] for c in calls_of(sim, "clients.update")] == [503, 503, 200]

    # a DELETE whose answer was lost is resent; the resend finds it gone
    sim.admin.add_fault("clients.delete", drop=True, times=1)
    with pytest.raises(ClientNotFound):
        await api.delete_client(tenant, created.client_id)
    assert len(calls_of(sim, "clients.delete")) == 2
