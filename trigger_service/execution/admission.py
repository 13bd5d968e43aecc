"""Admission: a queue slot taken before an execution is recorded, used or given back.

:meth:`~trigger_service.execution.executor.Executor.reserve` hands out a :class:`Reservation`
or raises ``Overloaded``; the caller then records the execution and submits it into the slot,
or releases the slot (a duplicate, an error). A burst therefore never queues more than the
executor's bound.

:class:`AdmissionLimits` bounds what a request may cost before any of that (bytes and time
of its body, records and HEADs of an event body, live streams); :class:`Slots` is the
counted budget of raw uploads and of live streams.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from trigger_service.records import ExecutionRecord


class Reservation:
    """A queue slot taken by ``Executor.reserve``; submit a record or release it."""

    def __init__(
        self, *, queue: Callable[[ExecutionRecord], None], give_back: Callable[[], None]
    ) -> None:
        self._queue = queue
        self._give_back = give_back
        self._held = True

    @property
    def held(self) -> bool:
        """Whether the slot is still taken by this reservation."""
        return self._held

    def submit(self, record: ExecutionRecord) -> None:
        """Queue ``record`` in this slot."""
        self._take()
        self._queue(record)

    def release(self) -> None:
        """Give the slot back unused; does nothing once submitted or released."""
        if self._held:
            self._take()
            self._give_back()

    def _take(self) -> None:
        if not self._held:
            raise RuntimeError("this reservation was already used")
        self._held = False

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


#: Default slow-body timeout, in seconds (Apache ``mod_reqtimeout``'s ``body=20``).
DEFAULT_BODY_TIMEOUT = 20.0
#: Default minimum body rate, in bytes per second (``mod_reqtimeout``'s ``MinRate=500``).
DEFAULT_BODY_MIN_RATE = 500
#: Default largest number of records in one event body.
DEFAULT_MAX_EVENT_RECORDS = 100
#: Default HEADs of one event body in flight at once.
DEFAULT_HEAD_PARALLEL = 8
#: Default time all the HEADs of one event body may take together, in seconds.
DEFAULT_HEAD_BUDGET_SECONDS = 10.0
#: Default live (Server-Sent Events) subscribers at once.
DEFAULT_MAX_STREAMS = 100


@dataclass(frozen=True)
class AdmissionLimits:
    """What one request may cost before it is refused: bytes, time, records, HEADs, streams.

    A request body must keep coming: each read waits at most ``body_timeout`` seconds, and
    the whole body must have arrived by ``body_timeout + received / body_min_rate`` seconds
    after it started (Apache ``mod_reqtimeout``'s convention); otherwise ``408``. Raw sync
    uploads are admitted in ``upload_slots`` of their own (default: the executor's
    concurrency), taken before the body is read and apart from the queue the webhooks and
    the SQS pollers use, so slow uploads cannot make them answer ``429``. An event body may
    hold ``max_event_records`` records (``413`` beyond); its HEADs run ``head_parallel`` at
    once and must all be done within ``head_budget_seconds``. At most ``max_streams``
    live streams are open at once (``503`` with ``Retry-After`` beyond).
    """

    body_timeout: float = DEFAULT_BODY_TIMEOUT
    body_min_rate: int = DEFAULT_BODY_MIN_RATE
    upload_slots: int | None = None
    max_event_records: int = DEFAULT_MAX_EVENT_RECORDS
    head_parallel: int = DEFAULT_HEAD_PARALLEL
    head_budget_seconds: float = DEFAULT_HEAD_BUDGET_SECONDS
    max_streams: int = DEFAULT_MAX_STREAMS

    def __post_init__(self) -> None:
        positive = {
            "body_timeout": self.body_timeout,
            "body_min_rate": self.body_min_rate,
            "max_event_records": self.max_event_records,
            "head_parallel": self.head_parallel,
            "head_budget_seconds": self.head_budget_seconds,
            "max_streams": self.max_streams,
            "upload_slots": 1 if self.upload_slots is None else self.upload_slots,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")


class Slots:
    """A counted budget (raw uploads, live streams): :meth:`take` one or be refused.

    ``refuse`` makes the error raised when every slot is taken (``429`` or ``503`` with
    ``Retry-After``, by the caller's choice).
    """

    def __init__(self, size: int, refuse: Callable[[int], Exception]) -> None:
        if size < 1:
            raise ValueError("a slot budget needs at least one slot")
        self.size = size
        self._refuse = refuse
        self._taken = 0

    @property
    def taken(self) -> int:
        """How many slots are held now."""
        return self._taken

    @contextmanager
    def take(self) -> Iterator[None]:
        """Hold one slot for the block; raises ``refuse(size)`` when none is free."""
        if self._taken >= self.size:
            raise self._refuse(self.size)
        self._taken += 1
        try:
            yield
        finally:
            self._taken -= 1
