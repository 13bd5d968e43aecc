"""One execution: pin the input, build the pipeline, run it, fill in the record.

The pipeline is ``read → [decode] → steps… → [encode] → write``. The writer tags the output
with ``x-amz-meta-bucketstream-execution`` so it never triggers a workflow again, and reports
its multipart upload id as soon as it exists so a crashed execution's upload can be aborted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from bridge import Sink, Stage, StageMetrics, run_pipeline
from steps import to_stage
from storage_adapter import (
    MultipartWriter,
    RangedReader,
    StorageIO,
    TransferSettings,
    WriteResult,
)
from trigger_service.errors import ExecutionTimeout, LoopPrevented
from trigger_service.execution.allocator import tune_allocator
from trigger_service.execution.failures import error_info
from trigger_service.execution.sinks import FrameCallback, StreamOnlySink, TeeSink
from trigger_service.records import (
    ExecutionRecord,
    ExecutionStatus,
    ObjectRef,
    StepRecord,
    utc_now,
)
from trigger_service.workflows.loops import REASON_EXECUTION_OUTPUT, marker_reason, output_marker
from trigger_service.workflows.model import Workflow

logger = logging.getLogger(__name__)

#: User-metadata key marking objects written by an execution (``x-amz-meta-…`` on the wire).

ProgressCallback = Callable[[ExecutionRecord], Awaitable[None]]


class ExecutionEngine:
    """Runs executions against one store with one set of transfer settings."""

    def __init__(
        self,
        io: StorageIO,
        transfer: TransferSettings | None = None,
        *,
        progress_interval: float = 0.25,
    ) -> None:
        tune_allocator()
        self.io = io
        self.transfer = transfer or TransferSettings()
        self.progress_interval = progress_interval

    async def execute(
        self,
        workflow: Workflow,
        record: ExecutionRecord,
        *,
        on_progress: ProgressCallback | None = None,
        tee: FrameCallback | None = None,
        store_output: bool = True,
    ) -> ExecutionRecord:
        """Run ``record`` to a final state and return it; never raises for a failed run.

        ``tee`` receives every output chunk as it is produced (synchronous executions);
        with ``store_output=False`` nothing is written to the bucket.
        """
        record.status = ExecutionStatus.RUNNING
        record.attempts += 1
        record.started_at = utc_now()
        record.finished_at = None
        record.error = None
        record.output = None
        record.steps = []
        log = logging.LoggerAdapter(logger, {"execution": record.id, "workflow": workflow.name})
        metrics: list[StageMetrics] = []

        async def report() -> None:
            record.steps = [StepRecord.from_metrics(m) for m in metrics]
            if on_progress is not None:
                await on_progress(record)

        await report()
        try:
            with anyio.move_on_after(workflow.timeout_seconds) as deadline:
                result = await self._run(workflow, record, log, metrics, report, tee, store_output)
            if deadline.cancelled_caught:
                raise ExecutionTimeout(
                    f"the execution did not finish within the workflow's timeout_seconds "
                    f"({workflow.timeout_seconds:g} s); the output upload was aborted"
                )
        except BaseException as exc:
            if not isinstance(exc, Exception):
                raise
            record.status = ExecutionStatus.FAILED
            record.error = error_info(exc)
            log.warning("execution failed: %s: %s", record.error.code, record.error.message)
        else:
            record.status = ExecutionStatus.SUCCEEDED
            if store_output:
                record.output = ObjectRef.of(result)
        record.upload_id = None
        record.finished_at = utc_now()
        await report()
        return record

    async def _run(
        self,
        workflow: Workflow,
        record: ExecutionRecord,
        log: logging.LoggerAdapter[logging.Logger],
        metrics: list[StageMetrics],
        report: Callable[[], Awaitable[None]],
        tee: FrameCallback | None,
        store_output: bool,
    ) -> WriteResult:
        transfer = self.transfer
        source = record.input
        reader = RangedReader(
            self.io,
            source.bucket,
            source.key,
            etag=source.etag,
            version_id=source.version_id,
            chunk_size=transfer.chunk_size,
            read_ahead=transfer.read_ahead,
        )
        info = await reader.stat()
        record.input = ObjectRef.of(info)
        loop = marker_reason(f"s3://{info.bucket}/{info.key}", info.metadata)
        if loop is not None and loop.reason == REASON_EXECUTION_OUTPUT:
            raise LoopPrevented(loop.detail)
        output_key = workflow.output_key.render(
            info.key, execution_id=record.id, output_format=workflow.output_format
        )
        stages = [Stage("read", reader.run)]
        stages += [to_stage(step, log) for step in workflow.planned_steps()]
        sink = self._sink(workflow, record, output_key, tee, store_output, report)
        metrics.extend(StageMetrics(stage.name) for stage in stages)
        metrics.append(StageMetrics(sink.name))
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self._report_periodically, report)
            try:
                result = await run_pipeline(
                    stages, sink, capacity=transfer.channel_capacity, metrics=metrics
                )
            except Exception as exc:  # re-raised below, outside the group: not wrapped
                failure = exc
            finally:
                group.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return result.output

    def _sink(
        self,
        workflow: Workflow,
        record: ExecutionRecord,
        output_key: str,
        tee: FrameCallback | None,
        store_output: bool,
        report: Callable[[], Awaitable[None]],
    ) -> Sink[WriteResult]:
        if not store_output:
            if tee is None:
                raise ValueError("store_output=False needs a tee to stream the output to")
            return StreamOnlySink(workflow.output.bucket, output_key, tee)

        async def remember_upload(upload_id: str | None) -> None:
            record.upload_id = upload_id
            await report()

        writer = MultipartWriter(
            self.io,
            workflow.output.bucket,
            output_key,
            part_size=self.transfer.part_size,
            parts_in_flight=self.transfer.parts_in_flight,
            content_type=workflow.content_type,
            metadata=output_marker(record.id),
            on_upload_changed=remember_upload,
        )
        return writer if tee is None else TeeSink(writer, tee)

    async def _report_periodically(self, report: Callable[[], Awaitable[None]]) -> None:
        while True:
            await anyio.sleep(self.progress_interval)
            await report()
