"""Events in: matching to workflows, the loop guard, deduplication, queueing.

``routing`` matches events to workflows and HEADs the object; ``intake`` records and queues
starts under their idempotency key; ``sqs`` is the long-polling queue consumer.
"""

from trigger_service.intake.intake import Accepted, Intake
from trigger_service.intake.routing import Router, route_event
from trigger_service.intake.sqs import SqsPoller, SqsSettings

__all__ = ["Accepted", "Intake", "Router", "SqsPoller", "SqsSettings", "route_event"]
