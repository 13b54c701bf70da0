"""kopf, configured for what it still does here: raw watch events of tenant objects and
namespaces (handlers.py). kopf writes nothing: no finalizer, no status, no events, no
"last handled configuration"; those are ours, through the fenced client. Standalone: kopf's
peering is not leader election (leader.py is).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import cast

import kopf

from ..api.clients import GROUP

# kopf's own bookkeeping (retry state of the deletion handler) lives under a sub-prefix, apart
# from the annotations users set (`identity.ccoperator.io/rotate`).
KOPF_PREFIX = f"operator.{GROUP}"


class NoDiffBaseStorage(kopf.DiffBaseStorage):
    """Keep no "last handled configuration": every object always looks unchanged to kopf.

    kopf diffs against a stored copy of each object to call on.create/on.update handlers.
    We have none (the per-object loop sees every change itself), so storing that copy would
    only cost one more PATCH per create and per spec change, and a copy of the spec in an
    annotation on every object.
    """

    def build(self, *, body: kopf.Body,
              extra_fields: Iterable[kopf.FieldSpec] | None = None) -> kopf.BodyEssence:
        # kopf builds the "new" essence of every object on every watch event, by deep-copying
        # the whole body (5% of the operator's CPU in a burst of creates). With no change
        # handlers nothing reads it: an empty essence, always equal to the stored one.
        return cast(kopf.BodyEssence, {})

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return self.build(body=body)

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


class ProgressStorage(kopf.AnnotationsProgressStorage):
    """kopf's per-handler retry state (only the deletion handler has any), without the
    `kopf-managed` marker annotation: the marker tells other kopf operators to ignore these
    annotations when they diff objects, and writing it cost one more PATCH per deletion."""

    def _store_marker(self, prefix: str, patch: kopf.Patch, body: kopf.Body) -> None:
        return None


# kopf adds and removes *its* finalizer by its own rules (it would remove ours, having no
# handler that needs it). It never sees this name on an object, so it never writes one.
KOPF_FINALIZER = f"{KOPF_PREFIX}/kopf-unused"


def configure_kopf(settings: kopf.OperatorSettings, *, watch_timeout: int,
                   clusterwide: bool) -> None:
    settings.persistence.finalizer = KOPF_FINALIZER
    settings.persistence.progress_storage = ProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBaseStorage()
    settings.posting.loggers = False  # handler log lines stay logs, never events
    settings.posting.level = logging.INFO
    settings.posting.reporting_component = "ccoperator"
    settings.watching.server_timeout = watch_timeout
    settings.watching.client_timeout = watch_timeout + 60
    settings.watching.connect_timeout = 30
    settings.watching.inactivity_timeout = watch_timeout + 90
    settings.networking.request_timeout = 60
    settings.networking.connect_timeout = 30
    # Discovery once at start-up is enough (the CRD is installed before the operator), and it
    # spares the operator a cluster-wide watch on CustomResourceDefinitions in its RBAC.
    settings.scanning.disabled = True
    settings.peering.standalone = True
    settings.peering.clusterwide = clusterwide
