"""Repository-wide pytest plugins: the real control plane and the identity simulator."""

pytest_plugins = [
    "ccoperator_envtest.fixtures",
    "tests.sim_fixtures",
    "tests.crd_fixtures",
]
