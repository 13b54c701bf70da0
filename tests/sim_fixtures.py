"""pytest plugin: the identity simulator as a real process on loopback.

Fixtures
    sim_process   session   identity_sim.testing.SimProcess: `python -m identity_sim --port 0`
                            in its own process group, killed when the session ends
    sim           function  the same handle after `reset()`: fresh default bootstrap, no fault
                            rules, empty call log and counters; restarted first if a test
                            stopped or killed it

The handle gives `base_url`, `token_url`, `admin_client_id`, `admin_client_secret`,
`admin_tenant_id`, `tenants` (tenant -> role name -> id), `roles` (the admin tenant's),
`admin` (SimAdmin over /_admin), `token()`, `restart(hard=...)`, `kill()`. The administrator's
secret is fixed for the session, so it stays valid across resets and restarts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from identity_sim.testing import SimProcess


@pytest.fixture(scope="session")
def sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    with SimProcess(workdir=tmp_path_factory.mktemp("identity_sim")) as process:
        yield process


@pytest.fixture
def sim(sim_process: SimProcess) -> SimProcess:
    if not sim_process.running:
        sim_process.start()
    sim_process.reset()
    return sim_process
