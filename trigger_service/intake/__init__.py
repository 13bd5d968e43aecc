"""Events in: matching to workflows, the loop guard, deduplication, queueing.

``routing`` matches events to workflows and HEADs the object (all the function handler needs);
``intake`` records and queues starts under their idempotency key, and ``sqs`` is the
long-polling queue consumer: both belong to a running service and are imported from their
modules, so routing alone does not load the executor.
"""

from trigger_service.intake.routing import Router, Start, idempotency_key, route_event

__all__ = ["Router", "Start", "idempotency_key", "route_event"]
