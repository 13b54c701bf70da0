"""Fixtures of the identity client's contract tests. `sim` comes from tests/sim_fixtures.py:
a real simulator on loopback, reset to the default bootstrap before each test.

Every test that takes `tenant` (or `api`) runs once per API form: against the default
tenant (`demo-tenant`, unversioned) and against `demo-tenant-v1` (v1), with an `api` client
of that form. `existing` names a client that is there before the test starts (the
administrator in the unversioned tenant; a bootstrapped one in the v1 tenant, which the
administrator does not live in)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ccoperator.identity import ApiVersion, IdentityClient

from .identity_helpers import TENANT_MEMBER, Sim, config

FORMS = [ApiVersion.UNVERSIONED, ApiVersion.V1]
V1_EXISTING = "v1-existing-client"


@pytest.fixture(params=FORMS, ids=str)
def form(request: pytest.FixtureRequest) -> ApiVersion:
    value: ApiVersion = request.param
    return value


@pytest.fixture
def tenant(sim: Sim, form: ApiVersion) -> str:
    return sim.v1_tenant_id if form == ApiVersion.V1 else sim.admin_tenant_id


@pytest.fixture
async def api(sim: Sim, form: ApiVersion) -> AsyncIterator[IdentityClient]:
    """The administrator's client (Account Administrator in both tenants), of `form`."""
    async with IdentityClient(config(sim, api_version=form)) as client:
        yield client


@pytest.fixture
def existing(sim: Sim, tenant: str, form: ApiVersion) -> str:
    if form == ApiVersion.UNVERSIONED:
        return sim.admin_client_id
    # Through the admin API, so that the test's call log and counters start empty.
    sim.admin.bootstrap(
        {
            "tenants": [{"id": sim.admin_tenant_id}, {"id": tenant, "apiVersion": "v1"}],
            "admin": {
                "tenant": sim.admin_tenant_id,
                "clientId": sim.admin_client_id,
                "secret": sim.admin_client_secret,
            },
            "clients": [{"tenant": tenant, "clientId": V1_EXISTING, "roles": [TENANT_MEMBER]}],
        }
    )
    return V1_EXISTING
