"""Handing executions back when the service stops.

Draining (:meth:`Drainer.start`, the service is stopping): nothing new is accepted
(:meth:`Executor.reserve` raises ``ServiceUnavailable``, HTTP 503 with ``Retry-After``) and no
queued execution starts; running ones may finish (:meth:`Drainer.wait_idle`). Then
:meth:`Drainer.hand_back` stops what still runs and gives every held execution back: saved
``queued`` with the attempt it was using returned, its lease ended, so another worker takes it
over at once and the stop used no attempt.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from trigger_service.errors import ServiceUnavailable
from trigger_service.execution.recovery import committed_output
from trigger_service.records import ExecutionRecord, ExecutionStatus

if TYPE_CHECKING:
    from trigger_service.execution.executor import Executor

logger = logging.getLogger(__name__)

#: Seconds :meth:`Drainer.hand_back` waits for stopped runs to save themselves queued.
HAND_BACK_PATIENCE = 10.0


class Drainer:
    """The drain side of an :class:`Executor`."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def start(self) -> None:
        """Accept nothing new and start no queued execution (the service is stopping)."""
        if not self.executor._draining:
            logger.info(
                "draining: %d running, %d queued; accepting nothing new",
                self.executor._running,
                self.executor._pending,
            )
        self.executor._draining = True

    def refusal(self) -> ServiceUnavailable:
        """The error of a new execution while draining (HTTP 503 with ``Retry-After``)."""
        retry_after = self.executor.retry_after
        return ServiceUnavailable(
            "this worker is stopping and accepts no new execution; send it again (another "
            f"worker takes it) in {retry_after} s",
            retry_after=retry_after,
        )

    async def wait_idle(self) -> None:
        """Return once no execution runs here."""
        while self.executor._running:
            await self.next_change()

    async def hand_back(self) -> list[str]:
        """Stop what still runs and give every held execution back (see the module doc).

        Returns the ids handed back. Starts draining if not yet.
        """
        self.start()
        self.executor._handing_back = True
        held = list(self.executor._active)
        stopped = list(self.executor._scopes)
        for scope in list(self.executor._scopes.values()):
            scope.cancel()
        with anyio.move_on_after(HAND_BACK_PATIENCE, shield=True):
            while self.executor._scopes:
                await self.next_change()
        with anyio.CancelScope(shield=True):
            await self.executor.release_leases()
        for execution_id in held:
            self.executor._let_go(execution_id)
        if held or stopped:
            logger.info(
                "handed back %d execution(s) (%d stopped while running), no attempt used",
                len(held),
                len(stopped),
            )
        return held

    async def next_change(self) -> None:
        """Wait until a run ends here (or a second passes)."""
        self.executor._changed = anyio.Event()
        with anyio.move_on_after(1.0):
            await self.executor._changed.wait()

    async def give_back(self, record: ExecutionRecord) -> None:
        """Save a run stopped by :meth:`hand_back` as queued, its attempt given back."""
        with anyio.CancelScope(shield=True):
            if record.status.final:
                await self.executor._finish(record)
                return
            workflow = self.executor.workflows.get(record.workflow)
            if record.status is ExecutionStatus.RUNNING:
                output = await committed_output(self.executor.engine.io, workflow, record)
                if output is not None:  # committed just before the stop
                    await self.executor._succeeded_before_crash(record, output)
                    return
                record.attempts = max(record.attempts - 1, 0)
            record.status = ExecutionStatus.QUEUED
            record.worker = self.executor.worker_id
            try:
                await self.executor.store.save(record, lease_seconds=0)
            except Exception as exc:
                logger.warning("execution %s: could not hand it back: %s", record.id, exc)
