"""Transfer settings: the sizes that bound one execution's memory, each with its cost.

Like s3transfer's ``TransferConfig``, the bound is a formula of these settings, computed by
:meth:`TransferSettings.memory_bound` (README, "Memory"; checked against a measured run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage_adapter.part_sizes import DEFAULT_PART_SIZE
from storage_adapter.reader import DEFAULT_CHUNK_SIZE, DEFAULT_READ_AHEAD
from storage_adapter.writer import DEFAULT_PARTS_IN_FLIGHT

#: Frames a bridge channel holds before its sender waits.
DEFAULT_CHANNEL_CAPACITY = 2


@dataclass(frozen=True)
class TransferSettings:
    """Sizes of one execution's reads, channels and writes.

    * ``chunk_size``: bytes of one ranged GET; costs ``read_ahead × chunk_size`` in the
      reader and ``(channel_capacity + 1) × chunk_size`` per channel (frames queued plus the
      one a stage holds);
    * ``read_ahead``: ranged GETs in flight;
    * ``part_size``: bytes of one multipart part; costs ``(parts_in_flight + 1) × part_size``
      (parts uploading plus the one being filled) + one incoming chunk;
    * ``parts_in_flight``: UploadPart calls at once;
    * ``channel_capacity``: frames buffered between two stages.
    """

    chunk_size: int = DEFAULT_CHUNK_SIZE
    read_ahead: int = DEFAULT_READ_AHEAD
    part_size: int = DEFAULT_PART_SIZE
    parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT
    channel_capacity: int = DEFAULT_CHANNEL_CAPACITY

    def memory_bound(self, steps: int, branches: Sequence[int] = ()) -> int:
        """Most bytes one byte workflow of ``steps`` steps holds at once (README, "Memory").

        ``read_ahead × chunk_size`` (ranges in flight) + ``(steps + 1) × (channel_capacity + 1)
        × chunk_size`` (the channels between read, the steps and write, and the frame each
        stage holds) + ``(parts_in_flight + 1) × part_size`` (parts uploading and the one being
        filled). It does not depend on the object's size. A fan-out (``branches``: the step
        count of each branch) adds ``branch + 1`` channels per branch (the tee's and its
        steps') and has one writer per branch.
        """
        reader = self.read_ahead * self.chunk_size
        channel_count = steps + 1 + sum(count + 1 for count in branches)
        channels = channel_count * (self.channel_capacity + 1) * self.chunk_size
        writer = max(1, len(branches)) * (self.parts_in_flight + 1) * self.part_size
        return reader + channels + writer
