"""The end-to-end fixtures (operator process, Kube helper, simulator API), shared with
tests/e2e so the health checks judge objects the real operator wrote."""

from tests.e2e.conftest import (  # noqa: F401 - pytest finds fixtures by name here
    kube,
    operator,
    operator_factory,
    pytest_runtest_makereport,
    sim_api,
)
