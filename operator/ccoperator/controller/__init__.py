"""The controller layer: the reconcile path (reconciler), the work queue and its timers, the
workers, events, leader election and the kopf registrations (handlers).

Layers one-way: queue and timers know nothing of Kubernetes; the reconciler knows nothing of
kopf or of the queue's workers; workers drive the reconciler; handlers (kopf) feed workers.
"""

from .reconciler import CannotDelete, Cause, Controller, Outcome, ResourceView

__all__ = ["CannotDelete", "Cause", "Controller", "Outcome", "ResourceView"]
