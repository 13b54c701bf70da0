"""Contract: what only the v1 form has, or does differently (docs/identity-api-v1.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ccoperator.identity import (
    ApiVersion,
    ClientCreate,
    ClientDto,
    IdentityClient,
    InvalidInput,
    MemberRoleRequired,
    NotSupported,
    OutcomeUnknown,
    SecretCreate,
    TenantNotFound,
    Transient,
)
from identity_sim.testing import bootstrap_doc, tenant_doc

from .identity_helpers import (
    CLUSTER_SUPPORT,
    TENANT_MEMBER,
    Sim,
    calls_of,
    config,
    counter,
    new_client,
    role_id,
    unique,
)


@pytest.fixture
def v1_tenant(sim: Sim) -> str:
    return sim.v1_tenant_id


@pytest.fixture
async def v1(sim: Sim) -> IdentityClient:
    async with IdentityClient(config(sim, api_version=ApiVersion.V1)) as client:
        yield client  # type: ignore[misc]


def member(sim: Sim, tenant: str) -> str:
    return role_id(sim, tenant, TENANT_MEMBER)


async def test_the_default_bootstrap_has_a_v1_tenant_with_the_same_role_names(sim: Sim) -> None:
    assert sim.v1_tenant_id == "demo-tenant-v1"
    assert sim.api_versions == {"demo-tenant": "unversioned", "demo-tenant-v1": "v1"}
    assert set(sim.v1_roles) == set(sim.roles)
    assert set(sim.v1_roles.values()).isdisjoint(sim.roles.values())  # ids are per tenant


async def test_a_tenant_answers_on_its_own_form_only(sim: Sim, v1: IdentityClient) -> None:
    with pytest.raises(TenantNotFound):
        await v1.list_clients(sim.admin_tenant_id)
    async with IdentityClient(config(sim)) as unversioned:
        with pytest.raises(TenantNotFound):
            await unversioned.list_clients(sim.v1_tenant_id)


async def test_the_member_role_is_required(sim: Sim, v1: IdentityClient, v1_tenant: str) -> None:
    support = role_id(sim, v1_tenant, CLUSTER_SUPPORT)
    with pytest.raises(MemberRoleRequired) as caught:
        await v1.create_client(v1_tenant, ClientCreate(name="x", role_ids=[support]))
    assert isinstance(caught.value, InvalidInput) and caught.value.status == 400
    assert "Member role" in (caught.value.reason or "")
    created = await new_client(v1, v1_tenant, [member(sim, v1_tenant), support])
    dropped = ClientDto(client_id=created.client_id, name="x", role_ids=[support])
    with pytest.raises(MemberRoleRequired):
        await v1.update_client(v1_tenant, created.client_id, dropped)


async def test_tags_and_token_lifetime_round_trip(
    sim: Sim, v1: IdentityClient, v1_tenant: str
) -> None:
    created = await v1.create_client(
        v1_tenant,
        ClientCreate(
            client_id=unique(),
            name="tagged",
            role_ids=[member(sim, v1_tenant)],
            tags=["team-a", "prod"],
            access_token_lifetime=600,
        ),
    )
    assert (created.tags, created.access_token_lifetime) == (["team-a", "prod"], 600)
    got = await v1.get_client(v1_tenant, created.client_id)
    assert got == created.to_dto()
    # the lifetime bounds the client's tokens
    token = await v1.request_token(created.client_id, created.client_secret)
    assert token.expires_in == 600
    # defaults: 3600 seconds, no tags
    plain = await new_client(v1, v1_tenant, [member(sim, v1_tenant)])
    assert (plain.access_token_lifetime, plain.tags) == (3600, [])
    with pytest.raises(InvalidInput) as short:
        await v1.create_client(
            v1_tenant,
            ClientCreate(name="x", role_ids=[member(sim, v1_tenant)], access_token_lifetime=30),
        )
    assert "AccessTokenLifetime" in (short.value.reason or "")


async def test_put_leaves_what_is_not_sent(sim: Sim, v1: IdentityClient, v1_tenant: str) -> None:
    created = await v1.create_client(
        v1_tenant,
        ClientCreate(
            client_id=unique(),
            name="before",
            role_ids=[member(sim, v1_tenant)],
            tags=["keep"],
            access_token_lifetime=900,
        ),
    )
    # what the operator sends: id, name, roles, enabled; lifetime and tags left out
    body = ClientDto(
        client_id=created.client_id, name="after", role_ids=created.role_ids, enabled=False
    )
    updated = await v1.update_client(v1_tenant, created.client_id, body)
    assert (updated.name, updated.enabled, updated.tags, updated.access_token_lifetime) == (
        "after",
        False,
        ["keep"],
        900,
    )
    retagged = await v1.update_client(
        v1_tenant, created.client_id, body.model_copy(update={"tags": []})
    )
    assert retagged.tags == [] and retagged.access_token_lifetime == 900


async def test_the_id_filter(sim: Sim, form: ApiVersion, api: IdentityClient, tenant: str) -> None:
    ids = [(await new_client(api, tenant, [member(sim, tenant)])).client_id for _ in range(4)]
    sim.admin.clear_calls()
    listed = await api.list_clients(tenant, ids=[ids[0], ids[2], "no-such-client", " "])
    assert listed.ids() == {ids[0], ids[2]}
    assert not listed.partial
    # v1 sends the filter (one call); the unversioned form lists everything and filters
    assert len(calls_of(sim, "clients.list")) == 1
    assert (await api.list_clients(tenant, ids=[])).items == []


async def test_a_large_id_filter_is_sent_in_chunks(
    sim: Sim, v1: IdentityClient, v1_tenant: str
) -> None:
    made = [(await new_client(v1, v1_tenant, [member(sim, v1_tenant)])).client_id for _ in range(3)]
    wanted = [*made, *(f"absent-{n:04d}-{'x' * 40}" for n in range(200))]
    sim.admin.clear_calls()
    listed = await v1.list_clients(v1_tenant, ids=wanted)
    assert listed.ids() == set(made)
    assert len(calls_of(sim, "clients.list")) >= 4  # ~12 KB of ids, at most ~3 KB per URL


async def test_total_count_ends_the_paging(sim: Sim, v1: IdentityClient, v1_tenant: str) -> None:
    for _ in range(6):
        await new_client(v1, v1_tenant, [member(sim, v1_tenant)])
    sim.admin.clear_calls()
    listed = await v1.list_clients(v1_tenant, page_size=3)
    assert len(listed.items) == 6
    assert len(calls_of(sim, "clients.list")) == 2  # no third, empty page


async def test_secrets_expire_or_not(sim: Sim, v1: IdentityClient, v1_tenant: str) -> None:
    created = await new_client(v1, v1_tenant, [member(sim, v1_tenant)])
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    expiring = await v1.add_secret(
        v1_tenant, created.client_id, SecretCreate(description="e", expiration=when)
    )
    forever = await v1.add_secret(v1_tenant, created.client_id, SecretCreate(description="f"))
    assert (expiring.expires, expiring.expiration) == (True, when)
    assert (forever.expires, forever.expiration) == (False, None)
    assert expiring.value is not None and forever.value is not None
    # an update of the description alone keeps the expiration; None makes it never expire
    kept = await v1.update_secret(
        v1_tenant, created.client_id, expiring.id, SecretCreate(description="renamed")
    )
    assert (kept.description, kept.expiration, kept.expires) == ("renamed", when, True)
    never = await v1.update_secret(
        v1_tenant, created.client_id, expiring.id, SecretCreate(expiration=None)
    )
    assert (never.description, never.expiration, never.expires) == ("renamed", None, False)


async def test_at_most_ten_secrets(sim: Sim, v1: IdentityClient, v1_tenant: str) -> None:
    created = await new_client(v1, v1_tenant, [member(sim, v1_tenant)])
    for n in range(9):
        await v1.add_secret(v1_tenant, created.client_id, SecretCreate(description=f"s{n}"))
    assert len(await v1.list_secrets(v1_tenant, created.client_id)) == 10
    with pytest.raises(InvalidInput) as caught:
        await v1.add_secret(v1_tenant, created.client_id, SecretCreate(description="eleventh"))
    assert "10" in (caught.value.reason or "")


async def test_roles(sim: Sim, v1: IdentityClient, v1_tenant: str) -> None:
    roles = await v1.list_roles(v1_tenant)
    assert {r.name: r.id for r in roles} == sim.v1_roles
    assert all(r.tenant_id == v1_tenant and r.role_scope == 1 for r in roles)
    assert len(await v1.list_roles(v1_tenant, page_size=2)) == len(roles)
    with pytest.raises(TenantNotFound):
        await v1.list_roles("no-such-tenant")
    async with IdentityClient(config(sim)) as unversioned:
        with pytest.raises(NotSupported):
            await unversioned.list_roles(sim.admin_tenant_id)
    assert counter(sim, "roles.list") == 1 + 3 + 1  # the NotSupported one sent nothing


async def test_a_408_on_a_write(sim: Sim, v1: IdentityClient, v1_tenant: str) -> None:
    # a create answered 408 may have happened: never resent, outcome unknown
    sim.admin.add_fault("clients.create", status=408, times=1)
    body = ClientCreate(client_id=unique(), name="t", role_ids=[member(sim, v1_tenant)])
    with pytest.raises(OutcomeUnknown) as caught:
        await v1.create_client(v1_tenant, body)
    assert isinstance(caught.value.cause, Transient) and caught.value.status == 408
    assert len(calls_of(sim, "clients.create")) == 1
    created = await v1.create_client(v1_tenant, body)
    # an idempotent write answered 408 is retried
    sim.admin.add_fault("clients.update", status=408, times=2)
    dto = created.to_dto().model_copy(update={"name": "after 408s"})
    assert (await v1.update_client(v1_tenant, created.client_id, dto)).name == "after 408s"
    assert [c["Status"] for c in calls_of(sim, "clients.update")] == [408, 408, 200]


async def test_a_test_declares_its_own_v1_tenant(sim: Sim) -> None:
    sim.reset(bootstrap_doc(tenant_doc("plain"), tenant_doc("modern", api_version="v1")))
    assert (sim.admin_tenant_id, sim.v1_tenant_id, sim.tenant_ids("v1")) == (
        "plain",
        "modern",
        ["modern"],
    )
    assert "Tenant Member" in sim.v1_roles  # generated: v1 tenants always have one
    async with IdentityClient(config(sim, api_version=ApiVersion.V1)) as v1:
        made = await new_client(v1, "modern", [sim.v1_roles["Tenant Member"]])
        assert (await v1.list_clients("modern")).ids() == {made.client_id}
