"""One execution: pin the input, build the pipeline, run it, fill in the record.

The pipeline is ``read → [decode] → steps… → [encode] → write``. The writer tags the output
with ``x-amz-meta-bucketstream-execution`` so it never triggers a workflow again, and reports
its multipart upload id as soon as it exists so a crashed execution's upload can be aborted.
The input is HEADed (pinned, and refused if it is an output); when the record already pins it
(etag and size, as the intake records every input it HEADed) it is not HEADed again: the first
ranged GET's answer tells the same, and ``RangedReader.run`` checks it before any byte goes on.

A fan-out workflow's pipeline is ``read → [decode] → shared steps… → tee``, the tee feeding
each branch's ``steps… → [encode] → write`` (see :mod:`bridge.tee`): the input is read and
decoded once. All or nothing: the branches are completed together once all succeeded, and if
one CompleteMultipartUpload fails after others succeeded, the outputs already committed are
deleted again (the very version written, where the bucket is versioned), so a failed
execution never leaves some of its outputs behind. A retry writes them all again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable

import anyio

from bridge import (
    DEFAULT_COMMIT_TIMEOUT,
    Branch,
    FanOut,
    Sink,
    Stage,
    StageContext,
    StageMetrics,
    run_pipeline,
)
from steps import share_frame, to_stage
from storage_adapter import (
    MultipartWriter,
    ObjectInfo,
    RangedReader,
    StorageIO,
    TransferSettings,
    WriteResult,
)
from trigger_service.errors import ExecutionTimeout, InputTooLarge, LoopPrevented
from trigger_service.execution.allocator import tune_allocator
from trigger_service.execution.failures import error_info
from trigger_service.execution.sinks import FrameCallback, StreamOnlySink, TeeSink, delete_output
from trigger_service.records import (
    ExecutionRecord,
    ExecutionStatus,
    ObjectRef,
    OutputRef,
    StepRecord,
    utc_now,
)
from trigger_service.workflows.branches import SINGLE_OUTPUT
from trigger_service.workflows.branches import Branch as OutputBranch
from trigger_service.workflows.loops import REASON_EXECUTION_OUTPUT, marker_reason, output_marker
from trigger_service.workflows.model import Workflow

logger = logging.getLogger(__name__)

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
        output_name: str | None = None,
    ) -> ExecutionRecord:
        """Run ``record`` to a final state and return it; never raises for a failed run.

        ``tee`` receives every output chunk as it is produced (synchronous executions): of
        the branch ``output_name`` of a fan-out workflow (default: its first); with
        ``store_output=False`` nothing is written to the bucket (and of a fan-out, only that
        branch runs).
        """
        record.status = ExecutionStatus.RUNNING
        record.attempts += 1
        record.started_at = utc_now()
        record.finished_at = None
        record.error = None
        record.output = None
        record.outputs = None
        record.steps = []
        log = logging.LoggerAdapter(logger, {"execution": record.id, "workflow": workflow.name})
        metrics: list[StageMetrics] = []

        async def report() -> None:
            record.steps = [StepRecord.from_metrics(m) for m in metrics]
            if on_progress is not None:
                await on_progress(record)

        await report()
        committed: list[dict[str, WriteResult]] = []
        try:
            with anyio.move_on_after(workflow.timeout_seconds) as deadline:
                result = await self._run(
                    workflow,
                    record,
                    log,
                    metrics,
                    report,
                    tee,
                    store_output,
                    output_name,
                    committed,
                )
            if deadline.cancelled_caught and committed:
                # The deadline passed during the (shielded) commit: the output exists.
                result = committed[0]
                log.info("the output was committed as the timeout passed: succeeded")
            elif deadline.cancelled_caught:
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
            if store_output and workflow.fan_out:
                record.outputs = [_output_ref(name, written) for name, written in result.items()]
            elif store_output:
                record.output = ObjectRef.of(result[SINGLE])
        record.upload_id = None
        record.upload_ids = {}
        record.finished_at = utc_now()
        if committed:
            # The save of a committed output is shielded too (bounded by its own deadline):
            # a cancellation now would leave a finished write recorded as running.
            with anyio.CancelScope(shield=True), anyio.move_on_after(DEFAULT_COMMIT_TIMEOUT):
                await report()
        else:
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
        output_name: str | None,
        committed: list[dict[str, WriteResult]],
    ) -> dict[str, WriteResult]:
        """Run the pipeline; returns what each output wrote, by branch name (also appended
        to ``committed`` the moment the commit returns, before any cancellation point)."""
        reader = pinned_reader(self.io, record.input, self.transfer)
        check: Callable[[ObjectInfo], None] | None = None
        if is_pinned(record.input):  # checked on the first GET's answer, before any byte goes on
            check = functools.partial(accept_input, record)
        else:
            accept_input(record, await reader.stat())
        within_limits(workflow, record.input)  # the size is known: before any GET of the body
        stages = [Stage("read", functools.partial(reader.run, check=check))]
        stages += [to_stage(step, log) for step in workflow.planned_steps()]
        if workflow.fan_out:
            chosen = workflow.branch(output_name).name if tee is not None else None
            fan_out = self._fan_out(workflow, record, chosen, tee, store_output, report, log)
            sink: Sink[dict[str, WriteResult]] = fan_out
            branch_metrics = fan_out.all_metrics()
        else:
            output_key = workflow.branches[0].render_key(record.input.key, record.id)
            sink = _single(
                self._sink(
                    workflow.branches[0],
                    record,
                    output_key,
                    tee,
                    store_output,
                    report,
                    workflow.limits.max_output_bytes,
                )
            )
            branch_metrics = []
        metrics.extend(StageMetrics(stage.name) for stage in stages)
        metrics.append(StageMetrics(sink.name))
        pipeline_metrics = list(metrics)
        metrics.extend(branch_metrics)
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self._report_periodically, report)
            try:
                result = await run_pipeline(
                    stages, sink, capacity=self.transfer.channel_capacity, metrics=pipeline_metrics
                )
                committed.append(result.output)
            except Exception as exc:  # re-raised below, outside the group: not wrapped
                failure = exc
            finally:
                group.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return result.output

    def _fan_out(
        self,
        workflow: Workflow,
        record: ExecutionRecord,
        chosen: str | None,
        tee: FrameCallback | None,
        store_output: bool,
        report: Callable[[], Awaitable[None]],
        log: logging.LoggerAdapter[logging.Logger],
    ) -> FanOut[WriteResult]:
        """The tee and its branches; without storing, only the branch streamed back runs."""
        _, planned = workflow.planned_fan_out()
        branches: list[Branch[WriteResult]] = []
        for output, steps in zip(workflow.branches, planned, strict=True):
            if not store_output and output.name != chosen:
                continue
            key = output.render_key(record.input.key, record.id)
            branch_tee = tee if output.name == chosen else None
            sink = self._sink(
                output,
                record,
                key,
                branch_tee,
                store_output,
                report,
                workflow.limits.max_output_bytes,
            )
            stages = [to_stage(step, log) for step in steps]
            branches.append(Branch(output.name, stages, sink))

        async def undo(name: str, written: WriteResult) -> None:
            await delete_output(self.io, written, record.id)

        return FanOut(
            branches,
            capacity=self.transfer.channel_capacity,
            share=share_frame if len(branches) > 1 else None,
            undo=undo,
        )

    def _sink(
        self,
        output: OutputBranch,
        record: ExecutionRecord,
        output_key: str,
        tee: FrameCallback | None,
        store_output: bool,
        report: Callable[[], Awaitable[None]],
        max_output_bytes: int | None = None,
    ) -> Sink[WriteResult]:
        if not store_output:
            if tee is None:
                raise ValueError("store_output=False needs a tee to stream the output to")
            return StreamOnlySink(output.output.bucket, output_key, tee)
        fan_out = output.name != SINGLE

        async def remember_upload(upload_id: str | None) -> None:
            if not fan_out:
                record.upload_id = upload_id
            elif upload_id is None:
                record.upload_ids.pop(output.name, None)
            else:
                record.upload_ids[output.name] = upload_id
            await report()

        writer = MultipartWriter(
            self.io,
            output.output.bucket,
            output_key,
            part_size=self.transfer.part_size,
            parts_in_flight=self.transfer.parts_in_flight,
            content_type=output.content_type,
            metadata=output_marker(record.id),
            on_upload_changed=remember_upload,
            max_output_bytes=max_output_bytes,
        )
        return writer if tee is None else TeeSink(writer, tee)

    async def _report_periodically(self, report: Callable[[], Awaitable[None]]) -> None:
        while True:
            await anyio.sleep(self.progress_interval)
            await report()


#: The branch name of a single-output workflow.
SINGLE = SINGLE_OUTPUT


def _single(sink: Sink[WriteResult]) -> Sink[dict[str, WriteResult]]:
    return _SingleOutput(sink)


class _SingleOutput:
    """A single output's sink, answering like a fan-out: ``{"output": result}``."""

    def __init__(self, sink: Sink[WriteResult]) -> None:
        self.sink = sink
        self.name = sink.name

    async def consume(self, ctx: StageContext) -> None:
        await self.sink.consume(ctx)

    async def commit(self) -> dict[str, WriteResult]:
        return {SINGLE: await self.sink.commit()}

    async def abort(self) -> None:
        await self.sink.abort()


def _output_ref(name: str, written: WriteResult) -> OutputRef:
    return OutputRef(name=name, **ObjectRef.of(written).model_dump())


def pinned_reader(io: StorageIO, source: ObjectRef, transfer: TransferSettings) -> RangedReader:
    """A ranged reader of ``source`` pinned to its etag, size and version, sized by ``transfer``."""
    return RangedReader(
        io,
        source.bucket,
        source.key,
        etag=source.etag,
        size=source.size,
        version_id=source.version_id,
        chunk_size=transfer.chunk_size,
        read_ahead=transfer.read_ahead,
    )


def is_pinned(source: ObjectRef) -> bool:
    """Whether ``source`` names one version well enough to read it without a HEAD first.

    The intake HEADs every object it starts an execution for (etag and size then come from
    the store, not from the event), so an execution's input normally is.
    """
    return bool(source.etag) and source.size is not None


def within_limits(workflow: Workflow, source: ObjectRef) -> None:
    """Raise InputTooLarge when ``source`` is larger than the workflow's ``max_input_bytes``."""
    limit = workflow.limits.max_input_bytes
    if source.size is not None and source.size > limit:
        raise InputTooLarge(
            f"s3://{source.bucket}/{source.key} is {source.size} bytes, over the workflow's "
            f"limits.max_input_bytes ({limit}); raise the limit or split the object"
        )


def accept_input(record: ExecutionRecord, info: ObjectInfo) -> None:
    """Take the HEAD of the input into ``record``; raises LoopPrevented for an output."""
    record.input = ObjectRef.of(info).model_copy(update={"sequencer": record.input.sequencer})
    loop = marker_reason(f"s3://{info.bucket}/{info.key}", info.metadata)
    if loop is not None and loop.reason == REASON_EXECUTION_OUTPUT:
        raise LoopPrevented(loop.detail)
