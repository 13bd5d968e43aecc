"""The SQS poller: long polling; each message is deleted only once its work is done.

For each queue URL a :class:`SqsPoller` receives up to 10 messages per long poll
(``WaitTimeSeconds``, 20 by default), never more than the executor can queue, and only while
this worker is healthy (:class:`~trigger_service.health.Health`, the signal ``/healthz``
reports): while the execution store or the storage is down nothing is received, so an outage
burns no message's deliveries. A message is handled like this:

* its body is parsed (S3 notifications, SNS-wrapped or not); a body that cannot be parsed
  will never parse, so it is logged, counted and deleted at once;
* its events start executions through :class:`Intake` (duplicates find
  the existing execution); while they run, the message's visibility timeout is extended
  (``ChangeMessageVisibility``) so no other consumer receives it;
* once every execution is final the message is deleted — unless one failed *transiently*
  (its retries exhausted too): the message is then left to come back after an exponential
  back-off with jitter (``redelivery_delay × 2^(receives-1)``, at most ``redelivery_cap``,
  between half and all of it), and the redelivery runs that execution once more;
* an execution another live worker holds (several workers on one queue, a duplicate
  notification) is neither run here nor waited for: the message is left to come back after
  one lease period. By then that execution is final (the message is deleted), or its worker
  died and its lease expired, and this delivery takes it over and runs it;
* when the service stops (:meth:`SqsPoller.stop`), a message whose executions were handed
  back is made visible again at once (visibility 0), so another worker starts on it.

**When deliveries run out.** The queue's ``RedrivePolicy`` is read at start. A queue with one
(a dead-letter queue) keeps every message that still fails: it is never deleted here, and SQS
moves it to the dead-letter queue once its receive count passes the policy's
``maxReceiveCount``. A queue without one: once ``ApproximateReceiveCount`` reaches
``max_receive`` (10 by default: 8.5 to 17 minutes of deliveries with the default back-off)
a message that still fails transiently is deleted only after its executions are
recorded failed with code ``Unprocessed`` (transient, so ``POST /executions/{id}/retry`` and
backfills re-run them); an event whose object could not even be looked at is recorded as an
``Unprocessed`` execution of each matching workflow. A failure to record keeps the message.

A full queue (``Overloaded``) or a failing HEAD leaves the message for a later delivery.
Messages are handled concurrently, at most ``queue_size + concurrency`` at once. A long poll
cannot be interrupted: one that returns after :meth:`SqsPoller.stop` makes what it received
visible again at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from storage_adapter import StorageError
from trigger_service.errors import (
    MalformedEvent,
    Overloaded,
    ServiceUnavailable,
    StoreUnavailable,
    TriggerServiceError,
    Unprocessed,
)
from trigger_service.events.parse import ObjectEvent, ParsedNotification, parse_sqs_message
from trigger_service.execution.executor import Executor
from trigger_service.execution.failures import error_info
from trigger_service.health import Health
from trigger_service.intake.intake import Intake
from trigger_service.intake.routing import route_event
from trigger_service.intake.sqs_settings import MAX_VISIBILITY, RedrivePolicy
from trigger_service.intake.sqs_settings import SqsSettings as SqsSettings
from trigger_service.metrics import ServiceMetrics
from trigger_service.records import (
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    ObjectRef,
    utc_now,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)


class SqsPoller:
    """Receives notifications from one SQS queue and acknowledges each when it is done."""

    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        intake: Intake,
        executor: Executor,
        *,
        settings: SqsSettings | None = None,
        metrics: ServiceMetrics | None = None,
        health: Health | None = None,
    ) -> None:
        self.client = client
        self.queue_url = queue_url
        self.intake = intake
        self.executor = executor
        self.settings = settings or SqsSettings()
        self.metrics = metrics
        self.health = health
        #: The queue's redrive policy, read when :meth:`run` starts.
        self.redrive: RedrivePolicy | None = None
        self._in_flight = 0
        self._receipts: set[str] = set()
        self._max_in_flight = executor.queue_size + executor.concurrency
        self._limiter = anyio.CapacityLimiter(8)
        self._stopping = False
        self._idle = anyio.Event()

    @property
    def in_flight(self) -> int:
        """Messages received and not yet acknowledged or left."""
        return self._in_flight

    async def run(self) -> None:
        """Poll until cancelled, or until :meth:`stop` (then once every message is handled)."""
        async with anyio.create_task_group() as group:
            await self._read_redrive_policy()
            while not self._stopping:
                room = min(
                    10, self.executor.free_queue_slots, self._max_in_flight - self._in_flight
                )
                if room <= 0:
                    await anyio.sleep(0.1)
                    continue
                if not await self._healthy():
                    continue
                try:
                    messages = await self._call(self._receive, room, abandon_on_cancel=True)
                except Exception as exc:
                    logger.warning("ReceiveMessage on %s failed: %s", self.queue_url, exc)
                    await anyio.sleep(self.settings.error_backoff)
                    continue
                for message in messages:
                    self._in_flight += 1
                    group.start_soon(self._handle_and_count, message)

    def stop(self) -> None:
        """Receive nothing more; messages handled from now on are left visible at once."""
        self._stopping = True

    async def wait_idle(self) -> None:
        """Return once no message is in flight."""
        while self._in_flight:
            self._idle = anyio.Event()
            await self._idle.wait()

    async def release(self) -> None:
        """Make every message still in flight visible again at once (the worker stops)."""
        for receipt in list(self._receipts):
            try:
                await self._call(self._change_visibility, receipt, 0)
            except Exception as exc:
                logger.warning("could not hand an SQS message back: %s", exc)

    async def _read_redrive_policy(self) -> None:
        delay = self.settings.error_backoff
        while True:
            try:
                attributes = await self._call(self._queue_attributes, abandon_on_cancel=True)
            except Exception as exc:
                logger.warning(
                    "GetQueueAttributes on %s failed (retrying in %.0f s): %s",
                    self.queue_url,
                    delay,
                    exc,
                )
                await anyio.sleep(delay)
                continue
            self.redrive = RedrivePolicy.parse(attributes.get("RedrivePolicy"))
            if self.redrive is not None:
                logger.info(
                    "queue %s: messages that keep failing are left to its redrive policy "
                    "(dead-letter queue %s after %d receives)",
                    self.queue_url,
                    self.redrive.target,
                    self.redrive.max_receive,
                )
            return

    async def _healthy(self) -> bool:
        if self.health is None:
            return True
        report = await self.health.check()
        if report.healthy:
            return True
        logger.warning("not receiving from %s: %s", self.queue_url, report.reason)
        self._count("paused")
        await anyio.sleep(self.settings.health_backoff)
        return False

    async def _handle_and_count(self, message: dict[str, Any]) -> None:
        receipt = message["ReceiptHandle"]
        self._receipts.add(receipt)
        try:
            await self.handle(message)
        except Exception:
            logger.exception("SQS message %s: unexpected error", message.get("MessageId"))
        finally:
            self._receipts.discard(receipt)
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    def _exhausted(self, count: int) -> bool:
        """Whether this delivery is the last one this poller makes of a message."""
        return self.redrive is None and count >= self.settings.max_receive

    async def handle(self, message: dict[str, Any]) -> None:
        """Handle one received message (see the module docstring for the policy)."""
        receipt = message["ReceiptHandle"]
        count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        last_delivery = self._exhausted(count)
        try:
            parsed = parse_sqs_message(message.get("Body", ""))
        except MalformedEvent as exc:
            logger.warning("dropping unparseable SQS message %s: %s", message.get("MessageId"), exc)
            await self._delete(receipt, "dropped")
            return
        try:
            accepted = await self.intake.accept(parsed, source="sqs", rerun_transient=True)
        except ServiceUnavailable:  # draining: another worker takes it
            await self._leave(receipt, count, delay=0)
            return
        except (Overloaded, StoreUnavailable):
            await self._leave(receipt, count)
            return
        except StorageError as exc:
            if not last_delivery:
                logger.warning("SQS message %s left for redelivery: %s", message["MessageId"], exc)
                await self._leave(receipt, count)
                return
            if await self._record_unroutable(parsed, exc, count):
                await self._delete(receipt, "unprocessed")
            else:
                await self._leave(receipt, count)
            return
        me = self.executor.worker_id
        elsewhere = {r.id for r in accepted.executions if not r.status.final and r.worker != me}
        ids = [i for i in dict.fromkeys(r.id for r in accepted.executions) if i not in elsewhere]
        if not ids and not elsewhere:
            await self._delete(receipt, "deleted")
            return
        records = await self._wait_all(receipt, ids)
        unfinished = {r.id for r in records if not r.status.final}
        if unfinished and self._stopping:
            # Handed back by a stopping worker: let another one start on it at once.
            await self._leave(receipt, count, delay=0)
            return
        # An execution whose lease another worker took while it ran here is that worker's now.
        elsewhere.update(unfinished)
        if elsewhere and not last_delivery:
            # Held by a live worker: not ours to run or to acknowledge; look again later.
            await self._leave(receipt, count, delay=int(self.executor.leases.lease_seconds) + 1)
            return
        retryable = [
            r
            for r in records
            if r.status is ExecutionStatus.FAILED and r.error is not None and r.error.transient
        ]
        if retryable and not last_delivery:
            await self._leave(receipt, count)
            return
        if retryable:
            logger.warning(
                "SQS message %s: giving up after %d deliveries (no redrive policy); "
                "%s recorded Unprocessed",
                message["MessageId"],
                count,
                ", ".join(r.id for r in retryable),
            )
            if not await self._mark_unprocessed(retryable, count):
                await self._leave(receipt, count)
                return
            await self._delete(receipt, "unprocessed")
            return
        await self._delete(receipt, "deleted")

    async def _wait_all(self, receipt: str, ids: list[str]) -> list[ExecutionRecord]:
        results: dict[str, ExecutionRecord] = {}

        async def wait(execution_id: str) -> None:
            results[execution_id] = await self.executor.wait_final(execution_id)

        async with anyio.create_task_group() as heartbeat:
            heartbeat.start_soon(self._keep_invisible, receipt)
            async with anyio.create_task_group() as waits:
                for execution_id in ids:
                    waits.start_soon(wait, execution_id)
            heartbeat.cancel_scope.cancel()
        return [results[i] for i in ids]

    async def _keep_invisible(self, receipt: str) -> None:
        timeout = self.settings.visibility_timeout
        while True:
            await anyio.sleep(max(timeout / 3, 0.5))
            try:
                await self._call(self._change_visibility, receipt, timeout)
            except Exception as exc:
                logger.warning("could not extend an SQS message's visibility: %s", exc)

    async def _mark_unprocessed(self, records: list[ExecutionRecord], count: int) -> bool:
        """Record each failed execution as ``Unprocessed``; False if the store refused."""
        for record in records:
            assert record.error is not None
            if record.error.code == Unprocessed.code:
                continue
            record.error = unprocessed(record.error, count)
            try:
                await self.intake.store.save(record)
            except TriggerServiceError as exc:
                logger.warning("execution %s: not recorded Unprocessed: %s", record.id, exc)
                return False
        return True

    async def _record_unroutable(
        self, parsed: ParsedNotification, error: Exception, count: int
    ) -> bool:
        """Record a failed execution per matching workflow of events that could not be pinned."""
        info = error_info(error)
        if info.transient:
            info = unprocessed(info, count)
        for event in parsed.events:
            for workflow in route_event(self.intake.workflows, event).workflows:
                record = _failed_record(workflow.name, event)
                record.error = info
                try:
                    await self.intake.store.create(record)
                except TriggerServiceError as exc:
                    logger.warning("could not record an unprocessed event: %s", exc)
                    return False
                if self.metrics is not None:
                    self.metrics.finished(record)
        return True

    async def _leave(self, receipt: str, count: int, *, delay: int | None = None) -> None:
        if delay is None:
            delay = self.settings.backoff(count)
        try:
            await self._call(self._change_visibility, receipt, min(delay, MAX_VISIBILITY))
        except Exception as exc:
            logger.warning("could not shorten an SQS message's visibility: %s", exc)
        self._count("redelivered")

    async def _delete(self, receipt: str, outcome: str) -> None:
        try:
            await self._call(self._delete_message, receipt)
        except Exception as exc:
            logger.warning("could not delete an SQS message (it will come back): %s", exc)
            return
        self._count(outcome)

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.sqs_messages.labels(outcome=outcome).inc()

    async def _call(self, function: Any, *args: Any, abandon_on_cancel: bool = False) -> Any:
        return await anyio.to_thread.run_sync(
            function, *args, abandon_on_cancel=abandon_on_cancel, limiter=self._limiter
        )

    def _queue_attributes(self) -> dict[str, str]:
        response = self.client.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"]
        )
        return {str(name): value for name, value in response.get("Attributes", {}).items()}

    def _receive(self, room: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=room,
            WaitTimeSeconds=self.settings.wait_seconds,
            VisibilityTimeout=self.settings.visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages = [dict(message) for message in response.get("Messages", [])]
        if self._stopping:  # received after stop(): another worker may have them at once
            for message in messages:
                self._change_visibility(str(message["ReceiptHandle"]), 0)
            return []
        return messages

    def _change_visibility(self, receipt: str, timeout: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=timeout
        )

    def _delete_message(self, receipt: str) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)


def unprocessed(last: ErrorInfo, deliveries: int) -> ErrorInfo:
    """The ``Unprocessed`` error of an event given up on after ``deliveries``."""
    return ErrorInfo(
        code=Unprocessed.code,
        message=f"given up after {deliveries} deliveries of its message, each failing "
        f"transiently (the last: {last.code}: {last.message}); the queue has no redrive "
        "policy to keep the message: re-run it with POST /executions/{id}/retry or a "
        "backfill in mode failed, or give the queue a dead-letter queue",
        step=last.step,
        transient=True,
    )


def _failed_record(workflow: str, event: ObjectEvent) -> ExecutionRecord:
    now = utc_now()
    return ExecutionRecord(
        workflow=workflow,
        status=ExecutionStatus.FAILED,
        input=ObjectRef.of(event),
        source="sqs",
        finished_at=now,
    )
