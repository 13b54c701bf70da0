"""Fixtures shared by the integration tests: typed API handles on the control plane."""

from __future__ import annotations

import pytest
from kubernetes import client


@pytest.fixture
def objects(k8s_api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(k8s_api)


@pytest.fixture
def core(k8s_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s_api)
