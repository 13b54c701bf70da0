"""Contract: every row of the secrets table, secret expiry, and the 404s told apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ccoperator.identity import (
    ApiVersion,
    ClientNotFound,
    Forbidden,
    IdentityClient,
    InvalidClientCredentials,
    SecretCreate,
    SecretNotFound,
    TenantNotFound,
)

from .identity_helpers import (
    CLUSTER_SUPPORT,
    TENANT_MEMBER,
    Sim,
    config,
    new_client,
    role_id,
    with_member,
)

NO_TENANT = "no-such-tenant"


async def test_list_and_get(sim: Sim, api: IdentityClient, tenant: str) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    secrets = await api.list_secrets(tenant, created.client_id)
    assert len(secrets) == 1
    first = secrets[0]
    assert (first.id, first.description, first.value, first.expiration) == (
        created.secret_id,
        "first",
        None,
        None,
    )
    assert await api.get_secret(tenant, created.client_id, first.id) == first


async def test_add_gives_a_second_working_secret(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    added = await api.add_secret(
        tenant, created.client_id, SecretCreate(description="rotation", expiration=expires)
    )
    assert added.value is not None
    assert added.id != created.secret_id
    assert (added.description, added.expiration) == ("rotation", expires)
    # both authenticate: overlapping rotation
    await api.request_token(created.client_id, created.client_secret)
    await api.request_token(created.client_id, added.value)
    listed = await api.list_secrets(tenant, created.client_id)
    assert sorted(s.id for s in listed) == sorted([created.secret_id, added.id])
    assert all(s.value is None for s in listed)


async def test_update(sim: Sim, api: IdentityClient, tenant: str) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    when = datetime(2032, 1, 1, tzinfo=UTC)
    updated = await api.update_secret(
        tenant,
        created.client_id,
        created.secret_id,
        SecretCreate(description="renamed", expiration=when),
    )
    assert (updated.id, updated.description, updated.expiration, updated.value) == (
        created.secret_id,
        "renamed",
        when,
        None,
    )
    # only what is set is sent: the expiration stays...
    renamed = await api.update_secret(
        tenant, created.client_id, created.secret_id, SecretCreate(description="again")
    )
    assert (renamed.description, renamed.expiration) == ("again", when)
    # ...until it is set to None: never expires
    again = await api.update_secret(
        tenant, created.client_id, created.secret_id, SecretCreate(expiration=None)
    )
    assert (again.description, again.expiration) == ("again", None)
    assert await api.get_secret(tenant, created.client_id, created.secret_id) == again


async def test_delete_returns_what_remains_and_the_secret_stops_working(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    added = await api.add_secret(tenant, created.client_id, SecretCreate(description="second"))
    remaining = await api.delete_secret(tenant, created.client_id, created.secret_id)
    # the unversioned form answers what remains; v1 answers 204, and then nothing is known
    assert [s.id for s in remaining] in ([added.id], [])
    assert [s.id for s in await api.list_secrets(tenant, created.client_id)] == [added.id]
    with pytest.raises(InvalidClientCredentials):
        await api.request_token(created.client_id, created.client_secret)
    assert added.value is not None
    await api.request_token(created.client_id, added.value)
    with pytest.raises(SecretNotFound):
        await api.get_secret(tenant, created.client_id, created.secret_id)


async def test_an_expired_secret_does_not_authenticate(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    soon = datetime.now(UTC) + timedelta(hours=1)
    short = await api.add_secret(
        tenant, created.client_id, SecretCreate(description="short", expiration=soon)
    )
    assert short.value is not None
    await api.request_token(created.client_id, short.value)
    sim.admin.advance_clock(2 * 3600)
    with pytest.raises(InvalidClientCredentials):
        await api.request_token(created.client_id, short.value)
    await api.request_token(created.client_id, created.client_secret)  # never expires


async def test_not_found_secret_client_tenant(sim: Sim, api: IdentityClient, tenant: str) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    cid, missing = created.client_id, created.secret_id + 1000
    body = SecretCreate(description="x")
    for call in (
        api.get_secret(tenant, cid, missing),
        api.update_secret(tenant, cid, missing, body),
        api.delete_secret(tenant, cid, missing),
    ):
        with pytest.raises(SecretNotFound) as caught:
            await call
        assert caught.value.status == 404
    for call in (
        api.list_secrets(tenant, "no-such-client"),
        api.get_secret(tenant, "no-such-client", 1),
        api.add_secret(tenant, "no-such-client", body),
        api.update_secret(tenant, "no-such-client", 1, body),
        api.delete_secret(tenant, "no-such-client", 1),
    ):
        with pytest.raises(ClientNotFound):
            await call
    for call in (
        api.list_secrets(NO_TENANT, cid),
        api.get_secret(NO_TENANT, cid, created.secret_id),
        api.add_secret(NO_TENANT, cid, body),
    ):
        with pytest.raises(TenantNotFound):
            await call


async def test_support_may_read_secrets_but_not_change_them(
    sim: Sim, form: ApiVersion, api: IdentityClient, tenant: str
) -> None:
    target = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    reader = await new_client(
        api, tenant, with_member(sim, tenant, [role_id(sim, tenant, CLUSTER_SUPPORT)])
    )
    async with IdentityClient(
        config(sim, reader.client_id, reader.client_secret.get_secret_value(), api_version=form)
    ) as support:
        assert [s.id for s in await support.list_secrets(tenant, target.client_id)] == [
            target.secret_id
        ]
        with pytest.raises(Forbidden):
            await support.add_secret(tenant, target.client_id, SecretCreate(description="x"))
        with pytest.raises(Forbidden):
            await support.update_secret(
                tenant, target.client_id, target.secret_id, SecretCreate(description="x")
            )
        with pytest.raises(Forbidden):
            await support.delete_secret(tenant, target.client_id, target.secret_id)
    assert len(await api.list_secrets(tenant, target.client_id)) == 1
