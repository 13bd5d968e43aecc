"""Events and API calls in: route, deduplicate, record, queue.

Every source (webhook, SQS poller, ``POST /workflows/{name}/executions``) goes through
:class:`Intake`. A start takes a queue slot first (:class:`~trigger_service.errors.Overloaded`
when there is none), then inserts the record under its idempotency key: a duplicate gets the
existing execution back and starts nothing — unless the worker holding it died (its lease
expired): this worker then takes it over (one winner) and runs it again. Only an SQS
redelivery (``rerun_transient``) may queue a final execution again, and only one that failed
transiently.
"""

from __future__ import annotations

from dataclasses import dataclass

from trigger_service.errors import LoopPrevented
from trigger_service.events.parse import IgnoredRecord, ParsedNotification
from trigger_service.execution.executor import Executor
from trigger_service.intake.routing import Router, Start, idempotency_key, ignore_reason
from trigger_service.metrics import ServiceMetrics
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.store.protocol import ExecutionStore
from trigger_service.workflows.loops import REASON_EXECUTION_OUTPUT, under_own_output
from trigger_service.workflows.model import Workflow, Workflows
from trigger_service.workflows.scope import check_api_scope


@dataclass(frozen=True)
class Accepted:
    """What a notification started: executions (new and existing), duplicates, ignored."""

    executions: tuple[ExecutionRecord, ...] = ()
    #: Ids of the executions that existed before (nothing new was started for them).
    duplicates: tuple[str, ...] = ()
    ignored: tuple[IgnoredRecord, ...] = ()


class Intake:
    """Turns parsed notifications and API calls into queued executions, once each."""

    def __init__(
        self,
        workflows: Workflows,
        router: Router,
        store: ExecutionStore,
        executor: Executor,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self.workflows = workflows
        self.router = router
        self.store = store
        self.executor = executor
        self.metrics = metrics

    async def accept(
        self, parsed: ParsedNotification, *, source: str, rerun_transient: bool = False
    ) -> Accepted:
        """Start what ``parsed`` asks for; storage errors while pinning objects raise.

        Raises :class:`~trigger_service.errors.Overloaded` when the queue is full (before
        any HEAD when it is full already); what was started before stays started, and a
        retried notification finds it as a duplicate. The HEADs are bounded in parallel and
        in time (:meth:`~trigger_service.intake.routing.Router.route_all`).
        """
        executions: list[ExecutionRecord] = []
        duplicates: list[str] = []
        ignored: list[IgnoredRecord] = list(parsed.ignored)
        routed_events = await self.router.route_all(parsed.events, before_heads=self._admit)
        for routed in routed_events:
            ignored += routed.ignored
            self._count(source, "ignored", len(routed.ignored))
            for start in routed.starts:
                record, created = await self.start(
                    start, source=source, rerun_transient=rerun_transient
                )
                executions.append(record)
                if not created:
                    duplicates.append(record.id)
                self._count(source, "started" if created else "duplicate")
        self._count(source, "ignored", len(parsed.ignored))
        return Accepted(tuple(executions), tuple(duplicates), tuple(ignored))

    def _admit(self, heads: int) -> None:
        """Refuse a notification before its HEADs when the queue has no room (``429``)."""
        if self.executor.free_queue_slots < 1:
            self.executor.reserve()  # raises Overloaded: the queue is full

    async def start(
        self, start: Start, *, source: str, rerun_transient: bool = False
    ) -> tuple[ExecutionRecord, bool]:
        """Queue one execution unless its idempotency key exists; returns (record, created)."""
        with self.executor.reserve() as slot:
            record = ExecutionRecord(
                workflow=start.workflow.name,
                input=start.input,
                source=source,
                idempotency_key=start.idempotency_key,
                worker=self.executor.worker_id,
            )
            leases = self.executor.leases
            stored, created = await self.store.create(record, lease_seconds=leases.lease_seconds)
            if created:
                slot.submit(stored)
            elif not stored.status.final and not self.executor.holds(stored.id):
                taken = await self.store.take_over(
                    stored.id, leases.worker_id, leases.lease_seconds
                )
                if taken is not None:
                    await self.executor.resume(slot, taken)
                    stored = taken
            elif (
                rerun_transient
                and stored.status is ExecutionStatus.FAILED
                and stored.error is not None
                and stored.error.transient
            ):
                await self.executor.rerun(slot, stored)
            return stored, created

    async def start_api(
        self, workflow_name: str, bucket: str, key: str
    ) -> tuple[ExecutionRecord, bool]:
        """An explicit start of one workflow on ``s3://bucket/key`` (deduplicated too).

        Raises UnknownWorkflow, OutOfScope for an object the trigger does not watch (see
        :meth:`admit_api`), the storage error of the HEAD (e.g. NoSuchKey), and LoopPrevented
        for a key under the workflow's own output prefix or an output object.
        """
        workflow = self.workflows.get(workflow_name)
        self.admit_api(workflow, bucket, key)
        info = await self.router.head(bucket, key)
        reason = ignore_reason(info)
        if reason is not None and reason.reason == REASON_EXECUTION_OUTPUT:
            raise LoopPrevented(reason.detail)
        ref = ObjectRef.of(info)
        start = Start(
            workflow=workflow,
            input=ref,
            idempotency_key=idempotency_key(
                workflow.name,
                bucket,
                key,
                version_id=ref.version_id,
                etag=ref.etag,
                last_modified=ref.last_modified,
            ),
        )
        record, created = await self.start(start, source="api")
        self._count("api", "started" if created else "duplicate")
        return record, created

    def admit_api(self, workflow: Workflow, bucket: str, key: str) -> None:
        """Check that an API call (async or synchronous) may run ``workflow`` on the object.

        Raises :class:`~trigger_service.errors.OutOfScope` unless the trigger accepts the key
        (or the workflow's ``api:`` section widens it), and LoopPrevented for a key under the
        workflow's own output prefix; nothing is asked of the storage before both pass.
        """
        check_api_scope(workflow, bucket, key)
        own_output = under_own_output(workflow, bucket, key)
        if own_output is not None:
            raise LoopPrevented(own_output.detail)

    def _count(self, source: str, outcome: str, amount: int = 1) -> None:
        if self.metrics is not None and amount:
            self.metrics.events.labels(source=source, outcome=outcome).inc(amount)
