"""Taking over executions whose worker died, and making them safe to run again.

:meth:`Takeovers.expired` runs at start and, as :meth:`Takeovers.sweep`, every lease period:
the store hands each expired execution to exactly one worker (``claim_expired``). Each is
settled (:meth:`Takeovers.settle`): an output its dead attempt committed is recorded; else the
upload the record names and the uploads attributable to the dead attempt are aborted
(:mod:`~trigger_service.execution.recovery`), and it is queued again unless it used every
attempt of its workflow's retry policy (then it fails with code ``Interrupted``). Each such
takeover of a *running* record counts a crash (``record.crashes``): an input whose worker died
:data:`POISON_AFTER` times while running it (an OOM kill, a segfault) is quarantined, failed
for good with code ``PoisonInput``, instead of killing its neighbours on every redelivery. A
record a stopping worker handed back is ``queued``, not running: no crash is counted. When the
storage does not answer whether the output was committed (``OutputUnknown``), nothing is
touched: the lease is given back and a later sweep tries again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from trigger_service.errors import OutputUnknown, PoisonInput, StoreUnavailable, UnknownWorkflow
from trigger_service.execution.recovery import (
    abort_orphan_uploads,
    abort_recorded_upload,
    committed_output,
)
from trigger_service.records import ErrorInfo, ExecutionRecord, ExecutionStatus, utc_now

if TYPE_CHECKING:
    from trigger_service.execution.executor import Executor

logger = logging.getLogger(__name__)

INTERRUPTED = "Interrupted"

#: Crashes of its worker while running an execution after which it is quarantined.
POISON_AFTER = 2


class Takeovers:
    """The takeover side of an :class:`Executor`."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def expired(self, *, sqs_grace: float) -> list[ExecutionRecord]:
        """Take over executions whose lease expired, settle them, queue them again.

        Runs at start (``sqs_grace=0``: everything expired) and as the periodic sweep. At most
        as many as the queue has room for are taken at once. Returns the records queued.
        """
        room = self.executor.free_queue_slots
        if room <= 0:
            return []
        claimed = await self.executor.store.claim_expired(
            self.executor.worker_id,
            self.executor.leases.lease_seconds,
            limit=room,
            sqs_grace=sqs_grace,
        )
        queued: list[ExecutionRecord] = []
        for record in claimed:
            reservation = self.executor.reserve()
            try:
                if await self.executor.resume(reservation, record):
                    queued.append(record)
            except OutputUnknown as exc:
                logger.warning("execution %s: takeover put off: %s", record.id, exc.message)
            finally:
                reservation.release()
        if claimed:
            logger.info(
                "took over %d execution(s) whose lease expired; %d queued again",
                len(claimed),
                len(queued),
            )
        return queued

    async def settle(self, record: ExecutionRecord) -> bool:
        """Make a taken-over record safe to run again; False when it ended instead."""
        self.executor._active.add(record.id)
        try:
            workflow = self.executor.workflows.get(record.workflow)
        except UnknownWorkflow as exc:
            await self.executor._fail_for_good(
                record, ErrorInfo(code=exc.code, message=exc.message)
            )
            return False
        if record.status is ExecutionStatus.RUNNING:
            io = self.executor.engine.io
            try:
                output = await committed_output(io, workflow, record)
            except OutputUnknown:
                await self._give_back(record)
                raise
            if output is not None:
                await self.executor._succeeded_before_crash(record, output)
                return False
            if record.upload_id is not None:
                await abort_recorded_upload(io, workflow, record)
                record.upload_id = None
            await abort_orphan_uploads(
                io,
                workflow,
                record,
                live_state=lambda: self._live_state(record),
                now=utc_now(),
                grace=self.executor.leases.lease_seconds / 2,
            )
            record.crashes += 1
            if record.crashes >= POISON_AFTER:
                await self.executor._fail_for_good(
                    record,
                    ErrorInfo(
                        code=PoisonInput.code,
                        message=f"the worker running this execution died {record.crashes} "
                        "times (killed, out of memory?) while running it; quarantined so it "
                        "stops taking workers down: check the input, then re-run it with "
                        "POST /executions/{id}/retry",
                        transient=False,
                    ),
                )
                return False
            interrupted = "the worker running this execution stopped"
            if record.attempts >= workflow.retry.attempts:
                await self.executor._fail_for_good(
                    record,
                    ErrorInfo(
                        code=INTERRUPTED,
                        message=f"{interrupted}, and it had used all "
                        f"{workflow.retry.attempts} attempts",
                        transient=True,
                    ),
                )
                return False
            record.error = ErrorInfo(
                code=INTERRUPTED, message=f"{interrupted}; it was queued again", transient=True
            )
        elif record.upload_id is not None:  # handed back with an upload it could not abort
            await abort_recorded_upload(self.executor.engine.io, workflow, record)
            record.upload_id = None
        record.status = ExecutionStatus.QUEUED
        try:
            await self.executor._save(record)
        except BaseException:
            self.executor._active.discard(record.id)
            raise
        return True

    async def _give_back(self, record: ExecutionRecord) -> None:
        """Stop holding ``record`` and give its lease back, so a later sweep takes it again."""
        self.executor._active.discard(record.id)
        leases = self.executor.leases
        try:
            await self.executor.store.renew(leases.worker_id, [record.id], 0)
        except StoreUnavailable as exc:
            logger.warning("execution %s: could not give its lease back: %s", record.id, exc)

    async def sweep(self) -> None:
        """Every lease period, take over what dead workers left (one winner per execution)."""
        while True:
            await anyio.sleep(self.executor.leases.lease_seconds)
            try:
                await self.expired(sqs_grace=self.executor.sqs_grace)
            except StoreUnavailable as exc:
                logger.warning("expired-lease sweep skipped: %s", exc.message)
            except Exception:
                logger.exception("expired-lease sweep failed")

    async def _live_state(self, record: ExecutionRecord) -> tuple[set[str], bool]:
        """Upload ids unfinished records name; whether another writer may be pending."""
        store = self.executor.store
        live = await store.open_upload_ids()
        live.discard(record.upload_id or "")
        others = await store.unfinished_for_input(
            record.workflow, record.input.bucket, record.input.key
        )
        pending = any(
            other.id != record.id
            and other.status is ExecutionStatus.RUNNING
            and other.upload_id is None
            for other in others
        )
        return live, pending
