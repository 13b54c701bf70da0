"""Owner keys, derived ids and marks (api/marks.py): pure functions, no I/O."""

from __future__ import annotations

import re
import uuid

import pytest
from ccoperator.api.marks import (
    DERIVED_ID_PATTERN,
    Cluster,
    Mark,
    cluster_fingerprint,
    derived_client_id,
    derived_in,
    is_derived_form,
    issuer_from_secrets,
    mark_from_description,
    mark_from_secrets,
    mark_from_tags,
    without_mark,
)


def test_the_same_owner_key_derives_the_same_id_in_any_cluster_life() -> None:
    key = Cluster("prod", "kube-uid").key("team-a", "billing")
    assert key == "prod/team-a/billing"
    assert derived_client_id(key) == derived_client_id("prod/team-a/billing")
    assert derived_client_id(key) != derived_client_id("prod/team-a/billing2")
    assert derived_client_id(key) != derived_client_id("staging/team-a/billing")


def test_derived_ids_are_uuids_of_version_8_that_name_their_cluster() -> None:
    client_id = derived_client_id("prod/team-a/billing")
    parsed = uuid.UUID(client_id)
    assert parsed.version == 8 and parsed.variant == uuid.RFC_4122
    assert is_derived_form(client_id) and re.match(DERIVED_ID_PATTERN, client_id)
    assert client_id.startswith(cluster_fingerprint("prod"))
    assert derived_in(client_id, "prod") and not derived_in(client_id, "staging")
    assert not is_derived_form(str(uuid.uuid5(uuid.NAMESPACE_DNS, "x")))  # version 5
    assert not is_derived_form(str(uuid.uuid4())) and not is_derived_form("billing-demo")


def test_aliases_are_the_uid_and_the_key_under_the_default_name() -> None:
    cluster = Cluster("prod", "5d2c-kube-system-uid")
    assert cluster.aliases("ns", "app", "uid-1") == {"uid-1", "5d2c-kube-system-uid/ns/app"}
    unnamed = Cluster("5d2c-kube-system-uid", "5d2c-kube-system-uid")
    assert unnamed.aliases("ns", "app", "uid-1") == {"uid-1"}


def test_tags_carry_owner_or_released_marks_and_nothing_else() -> None:
    assert mark_from_tags(["team:x", "ccoperator.io/owner=prod/ns/app"]) == Mark("prod/ns/app")
    assert mark_from_tags(["ccoperator.io/released=prod/ns/app"]) == Mark("prod/ns/app", True)
    assert mark_from_tags(["team:x"]) is None and mark_from_tags(None) is None
    assert Mark("prod/ns/app", released=True).tag() == "ccoperator.io/released=prod/ns/app"


@pytest.mark.parametrize("description", ["Billing worker", "", "a [bracket] inside"])
def test_a_description_mark_round_trips_and_replaces_an_older_one(description: str) -> None:
    marked = Mark("prod/ns/app").in_description(description)
    assert mark_from_description(marked) == Mark("prod/ns/app")
    assert without_mark(marked) == description
    released = Mark("prod/ns/app", released=True).in_description(marked)
    assert mark_from_description(released) == Mark("prod/ns/app", released=True)
    assert released.count("ccoperator.io/") == 1
    assert mark_from_description(description) is None


def test_the_newest_marked_secret_speaks_for_the_client() -> None:
    secrets = [(3, "x [ccoperator.io/owner=blue/ns/app]"), (5, "handed over"),
               (4, "y [ccoperator.io/owner=green/ns/app]"), (1, None)]
    assert mark_from_secrets(secrets) == Mark("green/ns/app")
    assert mark_from_secrets([(1, "made by hand")]) is None


def test_the_issuer_of_the_newest_marked_secret_tells_a_lost_answer_from_an_earlier_life() -> None:
    mine = Mark("prod/ns/app").in_description("ccoperator ns/app", uid="uid-now")
    assert mark_from_description(mine) == Mark("prod/ns/app")
    assert issuer_from_secrets([(1, Mark("prod/ns/app").in_description("x", uid="uid-old")),
                                (2, mine)]) == "uid-now"
    assert issuer_from_secrets([(1, Mark("prod/ns/app").in_description("x"))]) is None
