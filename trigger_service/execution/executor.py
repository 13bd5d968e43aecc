"""The executor: a bounded queue of accepted executions, run at most ``concurrency`` at once.

Admission is explicit: :meth:`Executor.reserve` takes a queue slot or raises
:class:`Overloaded` (HTTP 429 with ``Retry-After``), so a burst never grows memory; the slot is
then used by :meth:`Reservation.submit` or given back. Queued executions start when one of the
``concurrency`` run slots is free; synchronous executions share those slots
(:meth:`Executor.run_now`).

Transient failures (``error.transient``) are retried per the workflow's ``retry`` policy with
exponential backoff (``backoff_seconds × 2^(attempt-1)``, at most :data:`MAX_BACKOFF`), the
execution going back to ``queued`` meanwhile and giving its run slot up; bad input fails at
once.

Leases (:mod:`~trigger_service.execution.leases`): every execution this worker queued or runs
is held under its lease, renewed by a :class:`LeaseKeeper`; a run whose lease another worker
took over is stopped and its record left alone. :meth:`Executor.take_over_expired` runs at
start and then every lease period (the sweep): it takes over executions whose worker's lease
expired — one winner per execution, even with several workers sweeping — and
:meth:`Executor.resume` settles each (its upload aborted, or its committed output recorded)
and queues it again unless it used every attempt.

Draining and handing back on a stop: :mod:`~trigger_service.execution.handback`.
"""

from __future__ import annotations

import logging
import math

import anyio
from anyio.abc import TaskGroup, TaskStatus

from trigger_service.errors import LeaseLost, Overloaded, StoreUnavailable, UnknownWorkflow
from trigger_service.execution.admission import Reservation
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.failures import error_info
from trigger_service.execution.handback import Drainer
from trigger_service.execution.leases import LeaseKeeper, LeaseSettings, default_worker_id
from trigger_service.execution.sinks import FrameCallback
from trigger_service.execution.takeover import INTERRUPTED as INTERRUPTED
from trigger_service.execution.takeover import Takeovers
from trigger_service.logcontext import log_context
from trigger_service.metrics import ServiceMetrics
from trigger_service.records import (
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    ObjectRef,
    OutputRef,
    utc_now,
)
from trigger_service.store.protocol import ExecutionStore
from trigger_service.workflows.model import Workflow, Workflows

logger = logging.getLogger(__name__)

#: Longest wait between two attempts of one execution, in seconds.
MAX_BACKOFF = 300.0

#: How long a final record is retried while the store is unreachable, in seconds.
FINAL_SAVE_PATIENCE = 300.0


class Executor:
    """Runs accepted executions through the engine with a concurrency and a queue bound."""

    def __init__(
        self,
        engine: ExecutionEngine,
        store: ExecutionStore,
        workflows: Workflows,
        *,
        concurrency: int,
        queue_size: int,
        metrics: ServiceMetrics | None = None,
        retry_after: int = 1,
        leases: LeaseSettings | None = None,
        sqs_grace: float = 120.0,
    ) -> None:
        if concurrency < 1 or queue_size < 1:
            raise ValueError("concurrency and queue_size must be at least 1")
        self.engine = engine
        self.store = store
        self.workflows = workflows
        self.concurrency = concurrency
        self.queue_size = queue_size
        self.metrics = metrics
        self.retry_after = retry_after
        self._send, self._receive = anyio.create_memory_object_stream[ExecutionRecord](math.inf)
        self._pending = 0
        self._running = 0
        self._slots: anyio.Semaphore | None = None
        self._group: TaskGroup | None = None
        self._waiters: dict[str, anyio.Event] = {}
        self._waiting: dict[str, int] = {}
        self._active: set[str] = set()
        self._scopes: dict[str, anyio.CancelScope] = {}
        self.leases = leases or LeaseSettings(default_worker_id())
        #: Seconds an SQS execution's lease must be expired before the sweep takes it over
        #: (its redelivered message normally does it first).
        self.sqs_grace = sqs_grace
        self.lease_keeper = LeaseKeeper(store, self.leases, lambda: self._active, self._lost)
        self.takeovers = Takeovers(self)
        self.drainer = Drainer(self)
        self._draining = False
        self._handing_back = False
        self._changed = anyio.Event()
        if metrics is not None:
            metrics.track_active(lambda: self._pending, lambda: self._running)

    @property
    def queued(self) -> int:
        """Executions accepted and not started yet."""
        return self._pending

    @property
    def running(self) -> int:
        """Executions running now (synchronous ones included)."""
        return self._running

    @property
    def free_queue_slots(self) -> int:
        """How many more executions :meth:`reserve` would accept right now."""
        return 0 if self._draining else max(self.queue_size - self._pending, 0)

    @property
    def draining(self) -> bool:
        """Whether the service is stopping (nothing new is accepted)."""
        return self._draining

    @property
    def worker_id(self) -> str:
        """This worker's id, recorded in the executions it holds."""
        return self.leases.worker_id

    def holds(self, execution_id: str) -> bool:
        """Whether this worker has ``execution_id`` queued or running."""
        return execution_id in self._active

    async def rerun(self, reservation: Reservation, record: ExecutionRecord) -> bool:
        """Queue a failed ``record`` again in a reserved slot, unless another worker does.

        Used when an SQS message is redelivered after a transient failure. Returns whether
        the record was queued; the reservation is left untouched when it was not.
        """
        if record.id in self._active or not record.status.final:
            return False
        taken = await self.store.take_over(
            record.id, self.worker_id, self.leases.lease_seconds, rerun_failed=True
        )
        if taken is None:
            return False
        reservation.submit(taken)
        return True

    async def resume(self, reservation: Reservation, record: ExecutionRecord) -> bool:
        """Settle and queue an execution this worker just took over (see the module doc).

        Returns whether it was queued again (False: it had committed its output, or used
        every attempt, and is final now); the reservation is used only when it was queued.
        """
        if not await self.takeovers.settle(record):
            return False
        reservation.submit(record)
        return True

    def reserve(self) -> Reservation:
        """Take a queue slot; raises :class:`Overloaded` when the queue is full, and
        :class:`ServiceUnavailable` while draining."""
        if self._draining:
            raise self.drainer.refusal()
        if self._pending >= self.queue_size:
            raise Overloaded(
                f"{self._pending} executions are waiting, the most this service queues; "
                f"try again in {self.retry_after} s",
                retry_after=self.retry_after,
            )
        self._pending += 1
        return Reservation(queue=self._queue, give_back=self._give_back)

    def _queue(self, record: ExecutionRecord) -> None:
        self._active.add(record.id)
        self._send.send_nowait(record)

    def _give_back(self) -> None:
        self._pending -= 1

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start queued executions as run slots free up, until cancelled."""
        slots = self._slots = anyio.Semaphore(self.concurrency)
        async with anyio.create_task_group() as group:
            self._group = group
            group.start_soon(self.lease_keeper.run)
            group.start_soon(self.takeovers.sweep)
            task_status.started()
            async for record in self._receive:
                await slots.acquire()
                self._pending -= 1
                if self._draining:  # held until hand_back() gives its lease back
                    slots.release()
                    continue
                self._running += 1
                group.start_soon(self._run_in_slot, record)

    async def run_now(
        self,
        reservation: Reservation,
        workflow: Workflow,
        record: ExecutionRecord,
        *,
        tee: FrameCallback | None = None,
        store_output: bool = True,
        output_name: str | None = None,
    ) -> ExecutionRecord:
        """Run a reserved execution in the calling task once a run slot is free; no retries.

        Synchronous executions use this: their output streams to one caller, so a second
        attempt could not be streamed again. ``output_name`` picks a fan-out's output to tee.
        """
        self._active.add(record.id)
        record.worker = self.worker_id
        async with self._run_slots():
            reservation.release()
            self._running += 1
            try:
                with log_context(execution_id=record.id, workflow=workflow.name):
                    record = await self.engine.execute(
                        workflow,
                        record,
                        on_progress=self._save_progress,
                        tee=tee,
                        store_output=store_output,
                        output_name=output_name,
                    )
            finally:
                self._running -= 1
                self._changed.set()
        await self._finish(record)
        return record

    async def wait_final(self, execution_id: str) -> ExecutionRecord:
        """The record of ``execution_id`` once it has succeeded or failed for good here.

        Returns an unfinished record when this worker does not (or no longer) hold it: its
        lease was taken over by another worker, which will finish it.
        """
        self._waiting[execution_id] = self._waiting.get(execution_id, 0) + 1
        try:
            while True:
                event = self._waiters.setdefault(execution_id, anyio.Event())
                record = await self.store.get(execution_id)
                if record.status.final or execution_id not in self._active:
                    return record
                await event.wait()
        finally:
            self._waiting[execution_id] -= 1
            if not self._waiting[execution_id]:
                del self._waiting[execution_id]
                self._waiters.pop(execution_id, None)

    async def take_over_expired(self, *, sqs_grace: float | None = None) -> list[ExecutionRecord]:
        """Take over, settle and queue again executions whose lease expired (see takeover)."""
        return await self.takeovers.expired(
            sqs_grace=self.sqs_grace if sqs_grace is None else sqs_grace
        )

    async def release_leases(self) -> None:
        """Give up the leases of every execution held here (the service is stopping)."""
        await self.lease_keeper.release()
        self._active.clear()

    def _let_go(self, execution_id: str) -> None:
        """Forget an execution another worker now holds; its waiters read it again."""
        self._active.discard(execution_id)
        event = self._waiters.pop(execution_id, None)
        if event is not None:
            event.set()

    def _lost(self, execution_id: str) -> None:
        scope = self._scopes.get(execution_id)
        if scope is not None:
            scope.cancel()

    async def _run_in_slot(self, record: ExecutionRecord) -> None:
        assert self._slots is not None
        try:
            with (
                log_context(execution_id=record.id, workflow=record.workflow),
                anyio.CancelScope() as scope,
            ):
                self._scopes[record.id] = scope
                await self._execute(record)
            if scope.cancelled_caught and self._handing_back:
                await self.drainer.give_back(record)
                self._let_go(record.id)
            elif scope.cancelled_caught:
                logger.warning("execution %s: stopped, its lease was lost", record.id)
                self._let_go(record.id)
        except LeaseLost as exc:
            logger.warning("execution %s: stopped: %s", record.id, exc.message)
            self._let_go(record.id)
        except Exception as exc:
            logger.exception("execution %s: the executor failed", record.id)
            await self._fail_for_good(record, error_info(exc))
        finally:
            self._scopes.pop(record.id, None)
            self._running -= 1
            self._slots.release()
            self._changed.set()

    async def _execute(self, record: ExecutionRecord) -> None:
        try:
            workflow = self.workflows.get(record.workflow)
        except UnknownWorkflow as exc:
            await self._fail_for_good(record, ErrorInfo(code=exc.code, message=exc.message))
            return
        record = await self.engine.execute(workflow, record, on_progress=self._save_progress)
        error = record.error
        if (
            record.status is ExecutionStatus.FAILED
            and error is not None
            and error.transient
            and record.attempts < workflow.retry.attempts
        ):
            delay = min(workflow.retry.backoff_seconds * 2 ** (record.attempts - 1), MAX_BACKOFF)
            logger.info(
                "execution %s: %s (attempt %d of %d); retrying in %.1f s",
                record.id,
                error.code,
                record.attempts,
                workflow.retry.attempts,
                delay,
            )
            record.status = ExecutionStatus.QUEUED
            await self._save(record)
            if self.metrics is not None:
                self.metrics.retries.labels(workflow=workflow.name).inc()
            assert self._group is not None
            self._pending += 1
            self._group.start_soon(self._requeue_after, record, delay)
            return
        await self._finish(record)

    async def _requeue_after(self, record: ExecutionRecord, delay: float) -> None:
        await anyio.sleep(delay)
        self._send.send_nowait(record)

    async def _finish(self, record: ExecutionRecord) -> None:
        try:
            await self._save_final(record)
        except LeaseLost as exc:
            logger.warning("execution %s: final record not saved: %s", record.id, exc.message)
        except Exception:
            logger.exception("execution %s: could not save its final record", record.id)
        self._active.discard(record.id)
        if self.metrics is not None:
            self.metrics.finished(record)
        event = self._waiters.pop(record.id, None)
        if event is not None:
            event.set()

    async def _succeeded_before_crash(
        self, record: ExecutionRecord, output: ObjectRef | list[OutputRef]
    ) -> None:
        logger.info("execution %s: its output was committed before the crash", record.id)
        record.status = ExecutionStatus.SUCCEEDED
        if isinstance(output, list):  # a fan-out's outputs, every one committed
            record.outputs, record.upload_ids = output, {}
        else:
            record.output = output
        record.error = None
        record.upload_id = None
        record.finished_at = utc_now()
        await self._finish(record)

    async def _fail_for_good(self, record: ExecutionRecord, error: ErrorInfo) -> None:
        record.status = ExecutionStatus.FAILED
        record.error = error
        record.upload_id = None
        record.finished_at = utc_now()
        await self._finish(record)

    async def _save(self, record: ExecutionRecord) -> None:
        """Save a held, unfinished record (renewing its lease); raises LeaseLost."""
        record.worker = self.worker_id
        await self.store.save(record, lease_seconds=self.leases.lease_seconds)

    async def _save_final(self, record: ExecutionRecord) -> None:
        """Save a final record, waiting out a store outage (``FINAL_SAVE_PATIENCE``)."""
        delay = 0.2
        with anyio.move_on_after(FINAL_SAVE_PATIENCE) as patience:
            while True:
                try:
                    await self.store.save(record)
                    return
                except StoreUnavailable as exc:
                    logger.warning("execution %s: final save: %s", record.id, exc.message)
                await anyio.sleep(delay)
                delay = min(delay * 2, 5.0)
        if patience.cancelled_caught:
            raise StoreUnavailable(f"execution {record.id}: the store stayed unreachable")

    async def _save_progress(self, record: ExecutionRecord) -> None:
        # A final status is saved by the executor once it has decided on retries, so a
        # reader never sees "failed" for an execution about to be retried.
        if record.status.final:
            return
        try:
            await self._save(record)
        except LeaseLost as exc:
            logger.warning("execution %s: %s", record.id, exc.message)
            self._lost(record.id)
        except Exception:
            logger.exception("execution %s: could not save its progress", record.id)
            self.lease_keeper.check()  # a failed save renews nothing: stop if overdue

    def _run_slots(self) -> anyio.Semaphore:
        if self._slots is None:
            raise RuntimeError("the executor is not running")
        return self._slots
