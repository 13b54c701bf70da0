"""Paths: every id percent-encoded as exactly one segment; route names and idempotency."""

from __future__ import annotations

import pytest
from ccoperator.identity import paths
from ccoperator.identity.errors import ResourceKind


def test_paths_follow_the_seed() -> None:
    assert paths.clients_create("t").path == "/api/Tenants/t/ClientCredentialClient/"
    assert paths.clients_list("t").path == "/api/Tenants/t/ClientCredentialClient/"
    assert paths.clients_get("t", "c").path == "/api/Tenants/t/ClientCredentialClient/c"
    assert paths.secrets_list("t", "c").path == "/api/Tenants/t/Clients/c/Secret/"
    assert paths.secrets_get("t", "c", 7).path == "/api/Tenants/t/Clients/c/Secret/7"


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("..", ".."),
        ("x?y#z", "x%3Fy%23z"),
        ("50%", "50%25"),
        ("sp ace", "sp%20ace"),
        ("ünï", "%C3%BCn%C3%AF"),
    ],
)
def test_ids_are_one_encoded_segment(raw: str, encoded: str) -> None:
    assert (
        paths.clients_get("t/1", raw).path == f"/api/Tenants/t%2F1/ClientCredentialClient/{encoded}"
    )


def test_empty_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        paths.clients_get("t", "")


def test_routes() -> None:
    routes = [
        (paths.clients_create("t"), "clients.create", "POST", False, ResourceKind.CLIENTS),
        (paths.clients_list("t"), "clients.list", "GET", True, ResourceKind.CLIENTS),
        (paths.clients_get("t", "c"), "clients.get", "GET", True, ResourceKind.CLIENT),
        (paths.clients_update("t", "c"), "clients.update", "PUT", True, ResourceKind.CLIENT),
        (paths.clients_delete("t", "c"), "clients.delete", "DELETE", True, ResourceKind.CLIENT),
        (paths.secrets_list("t", "c"), "secrets.list", "GET", True, ResourceKind.SECRETS),
        (paths.secrets_add("t", "c"), "secrets.add", "POST", False, ResourceKind.SECRETS),
        (paths.secrets_get("t", "c", 1), "secrets.get", "GET", True, ResourceKind.SECRET),
        (paths.secrets_update("t", "c", 1), "secrets.update", "PUT", True, ResourceKind.SECRET),
        (paths.secrets_delete("t", "c", 1), "secrets.delete", "DELETE", True, ResourceKind.SECRET),
    ]
    for route, name, method, idempotent, kind in routes:
        assert (route.name, route.method, route.idempotent, route.kind) == (
            name,
            method,
            idempotent,
            kind,
        )
