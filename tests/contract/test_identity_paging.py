"""Contract: list pages through every client (skip/count) and reads a 207 as partial."""

from __future__ import annotations

import asyncio

from ccoperator.identity import ApiVersion, ClientCreate, IdentityClient

from .identity_helpers import TENANT_MEMBER, Sim, calls_of, config, role_id


async def create_many(api: IdentityClient, tenant: str, role: str, count: int) -> set[str]:
    ids = [f"page-{n:04d}" for n in range(count)]
    await asyncio.gather(
        *(
            api.create_client(tenant, ClientCreate(client_id=i, name=i, role_ids=[role]))
            for i in ids
        )
    )
    return set(ids)


async def test_paging_over_more_than_250_clients(
    sim: Sim, form: ApiVersion, existing: str, tenant: str
) -> None:
    async with IdentityClient(config(sim, max_concurrency=16, api_version=form)) as api:
        ids = await create_many(api, tenant, role_id(sim, tenant, TENANT_MEMBER), 260)
        sim.admin.clear_calls()
        listed = await api.list_clients(tenant)
    expected = ids | {existing}
    assert len(expected) == 261
    assert listed.ids() == expected
    assert len(listed.items) == 261  # no duplicates
    assert not listed.partial
    assert len(calls_of(sim, "clients.list")) == 3  # 100 + 100 + 61


async def test_a_full_last_page_ends_the_list_by_total_count_or_an_empty_page(
    sim: Sim, form: ApiVersion, existing: str, api: IdentityClient, tenant: str
) -> None:
    await create_many(api, tenant, role_id(sim, tenant, TENANT_MEMBER), 9)  # + existing = 10
    sim.admin.clear_calls()
    listed = await api.list_clients(tenant, page_size=5)
    assert len(listed.items) == 10
    lists = calls_of(sim, "clients.list")
    # unversioned: 5 + 5 + an empty page; v1: Total-Count says 10 after the second page
    assert len(lists) == (2 if form == ApiVersion.V1 else 3)


async def test_a_207_page_is_a_partial_read_not_an_absence(
    sim: Sim, form: ApiVersion, existing: str, api: IdentityClient, tenant: str
) -> None:
    ids = await create_many(api, tenant, role_id(sim, tenant, TENANT_MEMBER), 29)  # + existing = 30
    everyone = ids | {existing}
    sim.admin.add_fault("clients.list", partial207=True, times=1)
    listed = await api.list_clients(tenant, page_size=10)
    assert listed.partial
    unreadable = {str(e.names()) for e in listed.child_errors}
    assert unreadable, "the 207 page named clients it could not read"
    assert all(e.status_code == 500 and e.operation_id for e in listed.child_errors)
    # what was read plus what could not be read is everyone: nothing is reported missing
    assert listed.ids() | unreadable == everyone
    assert not listed.ids() & unreadable
    # a page with unreadable entries still counts as full, so paging went on to the end
    # (unversioned: an empty fourth page; v1: Total-Count 30 after the third)
    assert len(calls_of(sim, "clients.list")) == (3 if form == ApiVersion.V1 else 4)

    clean = await api.list_clients(tenant, page_size=10)
    assert not clean.partial and clean.ids() == everyone
