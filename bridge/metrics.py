"""Per-stage metrics: what flowed through a stage, and where it waited.

``send_blocked_seconds`` is time spent waiting for the downstream stage (it was slower);
``receive_blocked_seconds`` is time spent waiting for the upstream one. Timestamps are wall
clock (``time.time()``) so they can be compared across stages to prove overlap, e.g. the first
output part committed to storage before the last input range was read.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class StageStatus(StrEnum):
    """Lifecycle of one stage within one pipeline run."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class StageMetrics:
    """Counters and timestamps of one stage; updated live while the pipeline runs."""

    name: str
    status: StageStatus = StageStatus.PENDING
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    send_blocked_seconds: float = 0.0
    receive_blocked_seconds: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    first_input_at: float | None = None
    last_input_at: float | None = None
    first_output_at: float | None = None
    last_output_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record_input(self, size: int, blocked: float) -> None:
        """Count one frame received."""
        now = time.time()
        self.frames_in += 1
        self.bytes_in += size
        self.receive_blocked_seconds += blocked
        if self.first_input_at is None:
            self.first_input_at = now
        self.last_input_at = now

    def record_output(self, size: int, blocked: float) -> None:
        """Count one frame sent."""
        now = time.time()
        self.frames_out += 1
        self.bytes_out += size
        self.send_blocked_seconds += blocked
        if self.first_output_at is None:
            self.first_output_at = now
        self.last_output_at = now

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        data = asdict(self)
        data["status"] = str(self.status)
        return data
