"""SecretCache: the watch's copy of managed Secrets, used only when it cannot be stale."""

from __future__ import annotations

import base64
from typing import Any

from ccoperator.kube.secret_cache import SecretCache


def body(version: str, value: str = "s3cr3t", owner: str = "uid-1") -> dict[str, Any]:
    return {
        "metadata": {
            "name": "app-credentials",
            "namespace": "ns",
            "resourceVersion": version,
            "labels": {"app.kubernetes.io/managed-by": "ccoperator"},
            "annotations": {"identity.ccoperator.io/secret-id": "1"},
            "ownerReferences": [{"uid": owner, "controller": True, "kind": "X"}],
            "managedFields": [{"manager": "ccoperator", "fieldsV1": {"f:data": {}}}],
        },
        "data": {"clientSecret": base64.b64encode(value.encode()).decode(),
                 "clientId": base64.b64encode(b"c-1").decode()},
    }


def test_a_seen_secret_reads_like_a_get() -> None:
    cache = SecretCache()
    cache.seen(body("5"))
    found = cache.get("ns", "app-credentials", "uid-1", "clientSecret", wrote_version=None)
    assert found is not None
    assert found.owned and found.resource_version == "5"
    assert found.secret_value is not None and found.secret_value.get_secret_value() == "s3cr3t"
    assert found.data["clientId"] == "c-1"
    assert found.annotations == {"identity.ccoperator.io/secret-id": "1"}


def test_ownership_is_judged_per_reader() -> None:
    cache = SecretCache()
    cache.seen(body("5", owner="someone-else"))
    found = cache.get("ns", "app-credentials", "uid-1", "clientSecret", wrote_version=None)
    assert found is not None and not found.owned


def test_a_copy_older_than_our_write_is_not_used() -> None:
    cache = SecretCache()
    cache.seen(body("5"))
    assert cache.get("ns", "app-credentials", "uid-1", "clientSecret", wrote_version="7") is None
    cache.seen(body("7"))
    found = cache.get("ns", "app-credentials", "uid-1", "clientSecret", wrote_version="7")
    assert found is not None and found.resource_version == "7"


def test_deleted_and_unknown_secrets_are_misses() -> None:
    cache = SecretCache()
    assert cache.get("ns", "app-credentials", "uid-1", "clientSecret", wrote_version=None) is None
    cache.seen(body("5"))
    cache.gone(body("6"))
    assert len(cache) == 0
    assert cache.get("ns", "app-credentials", "uid-1", "clientSecret", wrote_version=None) is None


def test_managed_fields_are_not_kept() -> None:
    cache = SecretCache()
    cache.seen(body("5"))
    assert "managedFields" not in str(cache._bodies)


def test_a_name_is_known_absent_only_when_both_watches_listed_and_neither_knows_it() -> None:
    cache = SecretCache()
    # Before the listings are complete, a miss proves nothing.
    assert not cache.known_absent("ns", "app-credentials", wrote_version=None)
    cache.complete = True
    assert cache.known_absent("ns", "app-credentials", wrote_version=None)
    # Ours (managed), someone else's (a name only), or one this process wrote: not absent.
    cache.seen(body("5"))
    assert not cache.known_absent("ns", "app-credentials", wrote_version=None)
    cache.gone(body("5"))
    foreign = {"metadata": {"namespace": "ns", "name": "app-credentials"}}
    cache.foreign_seen(foreign)
    assert not cache.known_absent("ns", "app-credentials", wrote_version=None)
    cache.foreign_gone(foreign)
    assert cache.known_absent("ns", "app-credentials", wrote_version=None)
    assert not cache.known_absent("ns", "app-credentials", wrote_version="7")
    assert cache.known_absent("other-ns", "app-credentials", wrote_version=None)


def test_the_deletion_of_a_blocking_secret_names_the_resources_waiting_for_its_name() -> None:
    cache = SecretCache()
    foreign = {"metadata": {"namespace": "ns", "name": "app-credentials"}}
    cache.foreign_seen(foreign)
    cache.wait_for("ns", "app-credentials", "uid-1")
    cache.wait_for("ns", "app-credentials", "uid-2")
    cache.wait_for("ns", "other", "uid-3")
    assert cache.foreign_gone(foreign) == {"uid-1", "uid-2"}
    assert cache.foreign_gone(foreign) == set()  # told once
    # The same for a Secret with our label that belongs to another resource.
    cache.seen(body("5", owner="uid-9"))
    cache.wait_for("ns", "app-credentials", "uid-1")
    assert cache.gone(body("5", owner="uid-9")) == {"uid-1"}
