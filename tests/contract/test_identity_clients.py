"""Contract: every row of the ClientCredentialClient table, and every error it names."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from ccoperator.identity import (
    ApiVersion,
    ClientCreate,
    ClientDto,
    ClientNotFound,
    Conflict,
    Forbidden,
    IdentityClient,
    InvalidClientCredentials,
    InvalidInput,
    TenantNotFound,
    Unauthorized,
)

from .identity_helpers import (
    ACCOUNT_ADMINISTRATOR,
    CLUSTER_OPERATOR,
    CLUSTER_SUPPORT,
    TENANT_MEMBER,
    Sim,
    calls_of,
    config,
    core,
    counter,
    new_client,
    paths_of,
    role_id,
    unique,
    with_member,
)

NO_TENANT = "no-such-tenant"


# -- create ---------------------------------------------------------------------------------


async def test_create_with_a_chosen_id_answers_the_secret_once(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    member = role_id(sim, tenant, TENANT_MEMBER)
    expires = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    created = await api.create_client(
        tenant,
        ClientCreate(
            client_id="app-one",
            name="App One",
            role_ids=[member],
            enabled=True,
            secret_description="initial",
            secret_expiration_date=expires,
        ),
    )
    assert (created.client_id, created.name, created.role_ids, created.enabled) == (
        "app-one",
        "App One",
        [member],
        True,
    )
    assert created.secret_description == "initial"
    assert created.secret_expiration_date == expires
    assert isinstance(created.secret_id, int)
    # the secret authenticates...
    token = await api.request_token("app-one", created.client_secret)
    assert token.access_token.get_secret_value()
    # ...and is never shown again
    secrets = await api.list_secrets(tenant, "app-one")
    assert [(s.id, s.value) for s in secrets] == [(created.secret_id, None)]
    assert (await api.get_secret(tenant, "app-one", created.secret_id)).value is None


async def test_create_without_an_id_gets_a_generated_one(
    sim: Sim, api: IdentityClient, tenant: str
) -> None:
    created = await api.create_client(
        tenant, ClientCreate(name="generated", role_ids=[role_id(sim, tenant, TENANT_MEMBER)])
    )
    uuid.UUID(created.client_id)
    assert created.secret_expiration_date is None  # null: never expires
    assert (await api.get_client(tenant, created.client_id)).name == "generated"


async def test_create_errors(sim: Sim, api: IdentityClient, tenant: str) -> None:
    member = role_id(sim, tenant, TENANT_MEMBER)
    await new_client(api, tenant, [member], client_id="taken")
    with pytest.raises(Conflict) as conflict:
        await new_client(api, tenant, [member], client_id="taken")
    assert conflict.value.status == 409 and conflict.value.operation_id
    assert "already in use" in (conflict.value.error or "").lower()

    with pytest.raises(InvalidInput) as unknown_role:
        await new_client(api, tenant, ["not-a-role-id"])
    assert unknown_role.value.status == 400
    assert "RoleIds" in str(unknown_role.value)

    with pytest.raises(InvalidInput) as no_roles:
        await api.create_client(tenant, ClientCreate(client_id=unique(), name="x", role_ids=[]))
    assert "RoleIds" in (no_roles.value.reason or "")

    with pytest.raises(TenantNotFound) as no_tenant:
        await new_client(api, NO_TENANT, [member])
    assert no_tenant.value.status == 404


# -- get, list, update, delete --------------------------------------------------------------


async def test_get(sim: Sim, api: IdentityClient, tenant: str) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)], name="Getter")
    got = await api.get_client(tenant, created.client_id)
    assert got == created.to_dto()
    assert got.enabled is True
    with pytest.raises(ClientNotFound) as missing:
        await api.get_client(tenant, "no-such-client")
    assert missing.value.status == 404 and missing.value.operation_id
    with pytest.raises(TenantNotFound):
        await api.get_client(NO_TENANT, created.client_id)


async def test_list(
    sim: Sim, form: ApiVersion, existing: str, api: IdentityClient, tenant: str
) -> None:
    ids = {
        (await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])).client_id
        for _ in range(3)
    }
    listed = await api.list_clients(tenant)
    assert ids | {existing} <= listed.ids()
    assert not listed.partial and listed.child_errors == []
    with pytest.raises(TenantNotFound):
        await api.list_clients(NO_TENANT)
    # the form's collection path (the seed's with its trailing slash)
    assert calls_of(sim, "clients.list")[0]["Path"] == paths_of(form).clients_list(tenant).path


async def test_update(sim: Sim, form: ApiVersion, api: IdentityClient, tenant: str) -> None:
    member, support = role_id(sim, tenant, TENANT_MEMBER), role_id(sim, tenant, CLUSTER_SUPPORT)
    created = await new_client(api, tenant, [member])
    changed = ClientDto(
        client_id=created.client_id, name="Renamed", role_ids=[member, support], enabled=True
    )
    assert core(await api.update_client(tenant, created.client_id, changed)) == core(changed)
    assert core(await api.get_client(tenant, created.client_id)) == core(changed)

    # disabling takes the client's ability to get a token away
    disabled = changed.model_copy(update={"enabled": False})
    assert (await api.update_client(tenant, created.client_id, disabled)).enabled is False
    with pytest.raises(InvalidClientCredentials):
        await api.request_token(created.client_id, created.client_secret)

    with pytest.raises(InvalidInput):
        await api.update_client(
            tenant, created.client_id, changed.model_copy(update={"role_ids": ["bogus"]})
        )
    with pytest.raises(InvalidInput) as mismatch:
        await api.update_client(
            tenant, created.client_id, changed.model_copy(update={"client_id": "other"})
        )
    assert ("Id" if form == ApiVersion.V1 else "ClientId") in (mismatch.value.reason or "")
    with pytest.raises(ClientNotFound):
        await api.update_client(
            tenant, "no-such-client", changed.model_copy(update={"client_id": "no-such-client"})
        )
    with pytest.raises(TenantNotFound):
        await api.update_client(NO_TENANT, created.client_id, changed)


async def test_delete(sim: Sim, api: IdentityClient, tenant: str) -> None:
    created = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    await api.delete_client(tenant, created.client_id)
    with pytest.raises(ClientNotFound):
        await api.get_client(tenant, created.client_id)
    # its secrets went with it
    with pytest.raises(ClientNotFound):
        await api.list_secrets(tenant, created.client_id)
    with pytest.raises(InvalidClientCredentials):
        await api.request_token(created.client_id, created.client_secret)
    with pytest.raises(ClientNotFound):
        await api.delete_client(tenant, created.client_id)
    with pytest.raises(TenantNotFound):
        await api.delete_client(NO_TENANT, created.client_id)
    assert [c["Status"] for c in calls_of(sim, "clients.delete")] == [204, 404, 404]


# -- 401 and 403 -----------------------------------------------------------------------------


async def test_a_401_that_persists_is_unauthorized_after_one_renewal(
    sim: Sim, existing: str, api: IdentityClient, tenant: str
) -> None:
    await api.list_clients(tenant)  # token in hand
    sim.admin.clear_calls()
    sim.admin.add_fault("clients.get", status=401)
    with pytest.raises(Unauthorized) as caught:
        await api.get_client(tenant, existing)
    assert caught.value.status == 401
    assert counter(sim, "clients.get", 401) == 2
    assert counter(sim, "token", 200) == 1


async def test_a_cluster_support_client_may_read_but_not_write(
    sim: Sim, form: ApiVersion, api: IdentityClient, tenant: str
) -> None:
    reader = await new_client(
        api, tenant, with_member(sim, tenant, [role_id(sim, tenant, CLUSTER_SUPPORT)])
    )
    target = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    async with IdentityClient(
        config(sim, reader.client_id, reader.client_secret.get_secret_value(), api_version=form)
    ) as support:
        assert (await support.get_client(tenant, target.client_id)).client_id == target.client_id
        assert target.client_id in (await support.list_clients(tenant)).ids()
        assert len(await support.list_secrets(tenant, target.client_id)) == 1
        await support.get_secret(tenant, target.client_id, target.secret_id)

        with pytest.raises(Forbidden) as denied:
            await new_client(support, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
        assert denied.value.status == 403
        assert ACCOUNT_ADMINISTRATOR in (denied.value.reason or "") + (denied.value.error or "")
        with pytest.raises(Forbidden):
            await support.update_client(tenant, target.client_id, target.to_dto())
        with pytest.raises(Forbidden):
            await support.delete_client(tenant, target.client_id)
    assert calls_of(sim, "clients.create")[-1]["Status"] == 403
    assert (await api.get_client(tenant, target.client_id)) == target.to_dto()


async def test_a_cluster_operator_client_may_read_but_not_write(
    sim: Sim, form: ApiVersion, api: IdentityClient, tenant: str
) -> None:
    operator = await new_client(
        api, tenant, with_member(sim, tenant, [role_id(sim, tenant, CLUSTER_OPERATOR)])
    )
    async with IdentityClient(
        config(sim, operator.client_id, operator.client_secret.get_secret_value(), api_version=form)
    ) as ops:
        assert operator.client_id in (await ops.list_clients(tenant)).ids()
        await ops.get_client(tenant, operator.client_id)
        with pytest.raises(Forbidden):
            await new_client(ops, tenant, [role_id(sim, tenant, TENANT_MEMBER)])


async def test_a_client_without_roles_in_a_tenant_is_forbidden_there(
    sim: Sim, form: ApiVersion, api: IdentityClient, tenant: str
) -> None:
    member = await new_client(api, tenant, [role_id(sim, tenant, TENANT_MEMBER)])
    async with IdentityClient(
        config(sim, member.client_id, member.client_secret.get_secret_value(), api_version=form)
    ) as plain:
        with pytest.raises(Forbidden):
            await plain.get_client(tenant, member.client_id)
        with pytest.raises(Forbidden):
            await plain.list_clients(tenant)
