"""Fixtures of the identity client's contract tests. `sim` comes from tests/sim_fixtures.py:
a real simulator on loopback, reset to the default bootstrap before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ccoperator.identity import IdentityClient

from .identity_helpers import Sim, config


@pytest.fixture
async def api(sim: Sim) -> AsyncIterator[IdentityClient]:
    """The administrator's client (Account Administrator in the default tenant)."""
    async with IdentityClient(config(sim)) as client:
        yield client


@pytest.fixture
def tenant(sim: Sim) -> str:
    return sim.admin_tenant_id
