"""The SQS poller: long polling; each message is deleted only once its work is done.

For each queue URL a :class:`SqsPoller` receives up to 10 messages per long poll
(``WaitTimeSeconds``, 20 by default), never more than the executor can queue. A message is
handled like this:

* its body is parsed (S3 notifications, SNS-wrapped or not); a body that cannot be parsed
  will never parse, so it is logged, counted and deleted at once;
* its events start executions through :class:`Intake` (duplicates find
  the existing execution); while they run, the message's visibility timeout is extended
  (``ChangeMessageVisibility``) so no other consumer receives it;
* once every execution is final the message is deleted — unless one failed *transiently*
  (its retries exhausted too): the message is then left to come back after a short
  visibility timeout, and the redelivery runs that execution once more;
* an execution another live worker holds (several workers on one queue, a duplicate
  notification) is neither run here nor waited for: the message is left to come back after
  one lease period. By then that execution is final (the message is deleted), or its worker
  died and its lease expired, and this delivery takes it over and runs it.

**max_receive policy.** When ``ApproximateReceiveCount`` reaches ``max_receive`` (5 by
default) the message is handled one last time and then deleted whatever the outcome: the
failed execution stays recorded as failed (with its transient error), and an event whose
object could not even be looked at (storage down at every delivery) is recorded as a failed
execution of each matching workflow. A queue's own redrive policy (dead-letter queue) can
still be used; set its ``maxReceiveCount`` above ``max_receive``.

A full queue (``Overloaded``) or a failing HEAD before the last delivery leaves the message
for a later one. Messages are handled concurrently, at most ``queue_size + concurrency`` at once.
A long poll cannot be interrupted: stopping the service may wait up to ``wait_seconds`` for
the last ReceiveMessage to return (whatever it received then comes back after its visibility
timeout).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from storage_adapter import StorageError
from trigger_service.errors import MalformedEvent, Overloaded, StoreUnavailable
from trigger_service.events.parse import ObjectEvent, ParsedNotification, parse_sqs_message
from trigger_service.execution.executor import Executor
from trigger_service.execution.failures import error_info
from trigger_service.intake.intake import Intake
from trigger_service.intake.routing import route_event
from trigger_service.metrics import ServiceMetrics
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef, utc_now

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SqsSettings:
    """How the poller uses its queues."""

    #: Long-poll wait of one ReceiveMessage (0-20 s).
    wait_seconds: int = 20
    #: Visibility timeout given to received messages, extended while they are worked on.
    visibility_timeout: int = 60
    #: Deliveries after which a message is deleted whatever became of it.
    max_receive: int = 5
    #: Seconds before a message left for redelivery becomes visible again (× delivery count).
    redelivery_delay: int = 2
    #: Seconds to wait after a failed ReceiveMessage.
    error_backoff: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.wait_seconds <= 20:
            raise ValueError("wait_seconds must be between 0 and 20")
        if self.visibility_timeout < 2 or self.max_receive < 1:
            raise ValueError("visibility_timeout must be >= 2 and max_receive >= 1")


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
    ) -> None:
        self.client = client
        self.queue_url = queue_url
        self.intake = intake
        self.executor = executor
        self.settings = settings or SqsSettings()
        self.metrics = metrics
        self._in_flight = 0
        self._max_in_flight = executor.queue_size + executor.concurrency
        self._limiter = anyio.CapacityLimiter(8)

    async def run(self) -> None:
        """Poll until cancelled."""
        async with anyio.create_task_group() as group:
            while True:
                room = min(
                    10, self.executor.free_queue_slots, self._max_in_flight - self._in_flight
                )
                if room <= 0:
                    await anyio.sleep(0.1)
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

    async def _handle_and_count(self, message: dict[str, Any]) -> None:
        try:
            await self.handle(message)
        except Exception:
            logger.exception("SQS message %s: unexpected error", message.get("MessageId"))
        finally:
            self._in_flight -= 1

    async def handle(self, message: dict[str, Any]) -> None:
        """Handle one received message (see the module docstring for the policy)."""
        receipt = message["ReceiptHandle"]
        count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        last_delivery = count >= self.settings.max_receive
        try:
            parsed = parse_sqs_message(message.get("Body", ""))
        except MalformedEvent as exc:
            logger.warning("dropping unparseable SQS message %s: %s", message.get("MessageId"), exc)
            await self._delete(receipt, "dropped")
            return
        try:
            accepted = await self.intake.accept(parsed, source="sqs", rerun_transient=True)
        except (Overloaded, StoreUnavailable):
            await self._leave(receipt, count)
            return
        except StorageError as exc:
            if not last_delivery:
                logger.warning("SQS message %s left for redelivery: %s", message["MessageId"], exc)
                await self._leave(receipt, count)
                return
            await self._record_unroutable(parsed, exc)
            await self._delete(receipt, "deleted")
            return
        me = self.executor.worker_id
        elsewhere = {r.id for r in accepted.executions if not r.status.final and r.worker != me}
        ids = [i for i in dict.fromkeys(r.id for r in accepted.executions) if i not in elsewhere]
        if not ids and not elsewhere:
            await self._delete(receipt, "deleted")
            return
        records = await self._wait_all(receipt, ids)
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
                "SQS message %s: giving up after %d deliveries; %s stay failed",
                message["MessageId"],
                count,
                ", ".join(r.id for r in retryable),
            )
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

    async def _record_unroutable(self, parsed: ParsedNotification, error: Exception) -> None:
        """Record a failed execution per matching workflow of events that could not be pinned."""
        info = error_info(error)
        for event in parsed.events:
            for workflow in route_event(self.intake.workflows, event).workflows:
                record = _failed_record(workflow.name, event)
                record.error = info
                await self.intake.store.create(record)
                if self.metrics is not None:
                    self.metrics.finished(record)

    async def _leave(self, receipt: str, count: int, *, delay: int | None = None) -> None:
        if delay is None:
            delay = self.settings.redelivery_delay * count
        delay = min(delay, self.settings.visibility_timeout)
        try:
            await self._call(self._change_visibility, receipt, delay)
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

    def _receive(self, room: int) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=room,
            WaitTimeSeconds=self.settings.wait_seconds,
            VisibilityTimeout=self.settings.visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [dict(message) for message in response.get("Messages", [])]

    def _change_visibility(self, receipt: str, timeout: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt, VisibilityTimeout=timeout
        )

    def _delete_message(self, receipt: str) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)


def _failed_record(workflow: str, event: ObjectEvent) -> ExecutionRecord:
    now = utc_now()
    return ExecutionRecord(
        workflow=workflow,
        status=ExecutionStatus.FAILED,
        input=ObjectRef.of(event),
        source="sqs",
        finished_at=now,
    )
