"""How the SQS pollers use their queues: settings, redelivery back-off, redrive policies."""

from __future__ import annotations

import json
import logging
import math
import random
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Longest visibility timeout SQS accepts, in seconds (12 hours).
MAX_VISIBILITY = 43200


@dataclass(frozen=True)
class SqsSettings:
    """How the poller uses its queues."""

    #: Long-poll wait of one ReceiveMessage (0-20 s).
    wait_seconds: int = 20
    #: Visibility timeout given to received messages, extended while they are worked on.
    visibility_timeout: int = 60
    #: Deliveries after which a message of a queue without a redrive policy is given up on
    #: (its executions recorded ``Unprocessed``).
    max_receive: int = 10
    #: Base of the redelivery back-off, in seconds: ``redelivery_delay × 2^(receives-1)``.
    redelivery_delay: int = 2
    #: Longest redelivery back-off, in seconds.
    redelivery_cap: int = 900
    #: Seconds to wait after a failed ReceiveMessage.
    error_backoff: float = 5.0
    #: Seconds between two health checks while the worker is unhealthy.
    health_backoff: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.wait_seconds <= 20:
            raise ValueError("wait_seconds must be between 0 and 20")
        if self.visibility_timeout < 2 or self.max_receive < 1:
            raise ValueError("visibility_timeout must be >= 2 and max_receive >= 1")
        if not 0 <= self.redelivery_delay <= self.redelivery_cap <= MAX_VISIBILITY:
            raise ValueError(
                f"need 0 <= redelivery_delay <= redelivery_cap <= {MAX_VISIBILITY} seconds"
            )

    def backoff(self, receives: int, rng: random.Random | None = None) -> int:
        """Seconds before a message received ``receives`` times comes back (with jitter).

        Exponential, capped, "equal jitter": between half and all of
        ``min(redelivery_cap, redelivery_delay × 2^(receives-1))``, so redeliveries of many
        messages failing at once spread out instead of coming back together.
        """
        ceiling = min(
            float(self.redelivery_cap), self.redelivery_delay * 2.0 ** max(receives - 1, 0)
        )
        half = ceiling / 2
        return min(math.ceil(half + (rng or random).uniform(0, half)), self.redelivery_cap)


@dataclass(frozen=True)
class RedrivePolicy:
    """A queue's redrive policy: SQS moves a message to ``target`` after ``max_receive``."""

    target: str
    max_receive: int

    @classmethod
    def parse(cls, text: str | None) -> RedrivePolicy | None:
        """The policy of a ``RedrivePolicy`` attribute (None when absent or unusable)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["deadLetterTargetArn"]), int(data["maxReceiveCount"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring an unreadable RedrivePolicy: %r", text)
            return None
