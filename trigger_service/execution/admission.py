"""Admission: a queue slot taken before an execution is recorded, used or given back.

:meth:`~trigger_service.execution.executor.Executor.reserve` hands out a :class:`Reservation`
or raises ``Overloaded``; the caller then records the execution and submits it into the slot,
or releases the slot (a duplicate, an error). A burst therefore never queues more than the
executor's bound.
"""

from __future__ import annotations

from collections.abc import Callable

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
