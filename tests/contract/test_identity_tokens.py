"""Contract: discovery, token renewal on expiry and before it, one shared token request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from ccoperator.identity import (
    ApiVersion,
    IdentityClient,
    InvalidClientCredentials,
)
from identity_sim.testing import SimProcess

from .identity_helpers import TENANT_MEMBER, Sim, config, counter, new_client, role_id


async def test_discovery_names_the_token_endpoint(
    sim: Sim, existing: str, api: IdentityClient, tenant: str
) -> None:
    assert api.token_url is None
    await api.get_client(tenant, existing)
    assert api.token_url == sim.token_url
    await api.get_client(tenant, existing)
    assert counter(sim, "discovery", 200) == 1
    assert counter(sim, "token", 200) == 1


async def test_a_configured_token_url_skips_discovery(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    async with IdentityClient(config(sim, token_url=sim.token_url, api_version=form)) as api:
        await api.get_client(tenant, existing)
    assert counter(sim, "discovery") == 0
    assert counter(sim, "token", 200) == 1


async def test_discovery_down_falls_back_to_the_default_token_path(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    sim.admin.add_fault("discovery", status=503)
    async with IdentityClient(config(sim, api_version=form)) as api:
        await api.get_client(tenant, existing)
        await api.get_client(tenant, existing)
        assert api.token_url is None
    # A 503 is asked again twice within one discovery, then the default path is used and
    # discovery is not asked again for a while (not on the second call).
    assert counter(sim, "discovery", 503) == 3
    assert counter(sim, "token", 200) == 1


async def test_concurrent_callers_share_one_token_request(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    sim.admin.add_fault("token", latency=0.3)  # keep the request open while all callers arrive
    async with IdentityClient(config(sim, api_version=form)) as api:
        results = await asyncio.gather(*(api.get_client(tenant, existing) for _ in range(40)))
    assert {r.client_id for r in results} == {existing}
    assert sim.admin.counters()["token"] == {"200": 1}
    assert counter(sim, "clients.get", 200) == 40


async def test_expired_tokens_are_renewed_transparently(
    sim: Sim, existing: str, api: IdentityClient, tenant: str
) -> None:
    await api.get_client(tenant, existing)
    sim.admin.expire_tokens()
    # every caller hits the 401; they share the one renewal
    await asyncio.gather(*(api.get_client(tenant, existing) for _ in range(10)))
    assert counter(sim, "token", 200) == 2
    assert counter(sim, "clients.get", 401) >= 1
    assert counter(sim, "clients.get", 200) == 11


async def test_renewal_after_the_simulator_clock_passes_expiry(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    await api.list_clients(tenant)
    sim.admin.advance_clock(7200)
    await api.list_clients(tenant)
    assert counter(sim, "token", 200) == 2
    assert counter(sim, "clients.list", 401) == 1


async def test_a_create_that_meets_an_expired_token_is_resent_once(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    await api.list_clients(tenant)
    sim.admin.expire_tokens()
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    # a 401 proves nothing was created, so the one resend is safe
    assert sim.admin.counters()["clients.create"] == {"401": 1, "201": 1}
    assert (await api.get_client(tenant, created.client_id)).client_id == created.client_id


async def test_wrong_credentials_are_refused(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    async with IdentityClient(config(sim, client_secret="wrong-secret", api_version=form)) as api:
        with pytest.raises(InvalidClientCredentials):
            await api.get_client(tenant, existing)
        with pytest.raises(InvalidClientCredentials):
            await api.request_token("no-such-client", "whatever")
    assert counter(sim, "clients.get") == 0


# -- short-lived tokens: a simulator of its own with --token-ttl ---------------------------


@pytest.fixture(scope="module")
def short_ttl_sim() -> Iterator[Sim]:
    with SimProcess(token_ttl=2) as proc:
        yield proc


async def test_short_lived_tokens_are_renewed_before_they_expire(short_ttl_sim: Sim) -> None:
    sim = short_ttl_sim
    sim.admin.clear_calls()
    async with IdentityClient(config(sim)) as api:
        token = await api.request_token(sim.admin_client_id, sim.admin_client_secret)
        assert token.expires_in == 2
        for _ in range(6):
            await api.get_client(sim.admin_tenant_id, sim.admin_client_id)
            await asyncio.sleep(0.5)
    # renewed at 90% of the lifetime: never presented an expired token, so never a 401
    assert counter(sim, "clients.get", 401) == 0
    assert counter(sim, "clients.get", 200) == 6
    assert counter(sim, "token", 200) >= 3  # one from request_token, then renewals
