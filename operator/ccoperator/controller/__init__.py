"""The controller layer: the runtime (work queue and timers, workers, watch streams, leader
election, events, the kopf registrations) and the pass itself (reconciler: gate, observe,
decide, act, status; finalize for deletion).

Layers one-way: queue and timers know nothing of Kubernetes; the pass knows nothing of kopf or
of the queue's workers; workers drive the pass; streams and handlers (kopf) feed the workers.
"""

from .finalize import CannotDelete
from .reconciler import Controller
from .view import Cause, Outcome, ResourceView

__all__ = ["CannotDelete", "Cause", "Controller", "Outcome", "ResourceView"]
