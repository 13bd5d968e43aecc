"""A function handler: the workflows run inside one AWS Lambda or FunctionGraph invocation.

Set the function's handler to ``trigger_service.handler`` (both platforms call
``handler(event, context)``) and ``BUCKETSTREAM_WORKFLOWS`` to the workflow file packaged with
the function (a relative path is looked up in the working directory, then beside the
packages: the root of the function's zip). Each invocation:

1. parses ``event`` with :func:`~trigger_service.events.parse_notification` (an S3 event, the
   FunctionGraph OBS trigger's, CloudEvents, SNS/SMN envelopes; an SQS-triggered Lambda's
   ``Records[].body`` are parsed one by one);
2. routes each object event as the service does (trigger match, own outputs and objects
   written by an execution ignored, the object pinned by one HEAD);
3. runs every matching workflow, one after the other, with the service's
   :class:`~trigger_service.execution.engine.ExecutionEngine`: same pipeline, same multipart
   commit-or-abort;
4. returns ``{"executions": [records], "ignored": [{"reason", "detail"}]}``; for an SQS
   trigger also ``batchItemFailures`` (Lambda's partial batch response, with
   ``ReportBatchItemFailures`` on): the messages whose executions failed transiently, which
   the queue then delivers again, while the others are deleted. A message whose body is not
   a notification is ignored (``malformed_event``), since delivering it again cannot help;
   a message whose object could not be looked at (a transient storage error while routing)
   is reported alone, so the messages that succeeded are not run again.

For a direct trigger (no SQS batch), a transient failure raises
:class:`~trigger_service.errors.TransientFailure` (its ``records`` hold the answer), so the
platform's retries (Lambda's asynchronous retries, FunctionGraph's) and its dead-letter
queue apply; a storage error while routing raises too.

No store and no HTTP server: the records are the answer. An execution's timeout is the
smaller of the workflow's ``timeout_seconds`` and the invocation's remaining time
(``context.get_remaining_time_in_millis()`` on Lambda, ``getRemainingTimeInMilliSeconds()``
on FunctionGraph) minus :data:`ABORT_MARGIN_SECONDS`, kept to abort the upload and answer: a
run cut short fails with code ``Timeout`` and leaves no output and no open upload, instead of
being killed mid-upload by the platform. Executions failed on bad input are in the records
(the handler does not raise for them: the platform's retry would fail bad input again); an
event that is not a notification raises :class:`~trigger_service.errors.MalformedEvent`.

Workflows and the storage client are built once per process (a warm function reuses them);
storage settings come from the same variables as the service (``AWS_*``,
``BUCKETSTREAM_ENDPOINT_URL``, ``BUCKETSTREAM_CHECKSUMS``, ``BUCKETSTREAM_CHUNK_SIZE``…).
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from storage_adapter import (
    StorageError,
    StorageIO,
    StorageSettings,
    TransferSettings,
    make_s3_client,
)
from trigger_service.environment import storage_from_env, transfer_from_env
from trigger_service.errors import (
    ExecutionTimeout,
    MalformedEvent,
    TransientFailure,
    WorkflowConfigError,
)
from trigger_service.events import IgnoredRecord, ParsedNotification, parse_notification
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.intake.routing import Router, Start
from trigger_service.records import ErrorInfo, ExecutionRecord, ExecutionStatus, utc_now
from trigger_service.workflows.model import Workflows, load_workflows, prepare_workflows
from trigger_service.workflows.resources import StorageResourceLoader

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Environment variable naming the workflow file.
WORKFLOWS_VARIABLE = "BUCKETSTREAM_WORKFLOWS"
#: Where the packages sit in a function's zip: a relative workflow path is looked up here too.
CODE_ROOT = Path(__file__).resolve().parent.parent
#: Reason of an SQS message whose body is not a notification.
REASON_MALFORMED = "malformed_event"
#: Seconds of the invocation kept back to abort an upload and return the records.
ABORT_MARGIN_SECONDS = 3.0


@dataclasses.dataclass(frozen=True)
class FunctionRuntime:
    """What a function process builds once: the prepared workflows and the S3 client.

    Each invocation runs on a new event loop, so what binds to a loop (the I/O limiter of a
    :class:`~storage_adapter.StorageIO`) is made per invocation around the shared client.
    """

    workflows: Workflows
    storage: StorageSettings
    transfer: TransferSettings
    client: S3Client

    @classmethod
    async def load(cls, path: Path, env: Mapping[str, str]) -> FunctionRuntime:
        """Read and prepare the workflow file at ``path`` with storage from ``env``."""
        storage = storage_from_env(env)
        client = make_s3_client(storage)
        io = StorageIO(client, io_concurrency=storage.io_concurrency)
        workflows = await prepare_workflows(
            load_workflows(path), StorageResourceLoader(io, base_dir=path.parent)
        )
        return cls(workflows, storage, transfer_from_env(env), client)

    def engine(self) -> ExecutionEngine:
        """An engine for one invocation, over the shared client."""
        io = StorageIO(self.client, io_concurrency=self.storage.io_concurrency)
        return ExecutionEngine(io, self.transfer, progress_interval=60)

    async def invoke(self, event: Any, remaining: Callable[[], float]) -> dict[str, Any]:
        """Run the executions ``event`` starts; ``remaining()`` gives the seconds left."""
        engine = self.engine()
        router = Router(self.workflows, engine.io)
        records: list[ExecutionRecord] = []
        ignored: list[dict[str, str]] = []
        retry: list[str] = []
        messages = _messages(event)
        for message_id, parsed in messages:
            ignored += [{"reason": i.reason, "detail": i.detail} for i in parsed.ignored]
            for object_event in parsed.events:
                try:
                    routed = await router.route(object_event)
                except StorageError as exc:
                    if message_id is None or not exc.transient:
                        raise
                    # Only this message is delivered again; the others of the batch are done.
                    if message_id not in retry:
                        retry.append(message_id)
                    continue
                ignored += [{"reason": i.reason, "detail": i.detail} for i in routed.ignored]
                for start in routed.starts:
                    record = await self._execute(engine, start, remaining)
                    records.append(record)
                    transient = record.error is not None and record.error.transient
                    if transient and message_id is not None and message_id not in retry:
                        retry.append(message_id)
        answer: dict[str, Any] = {
            "executions": [r.public() for r in records],
            "ignored": ignored,
        }
        if messages and messages[0][0] is not None:
            answer["batchItemFailures"] = [{"itemIdentifier": m} for m in retry]
            return answer
        failed = [r for r in records if r.error is not None and r.error.transient]
        if failed:
            # A direct trigger: raise, so the platform's retries and dead-letter queue apply.
            raise TransientFailure(
                f"{len(failed)} execution(s) failed transiently ("
                + ", ".join(f"{r.id}: {r.error.code}" for r in failed if r.error)
                + "); the invocation fails so the platform retries it",
                records=answer["executions"],
            )
        return answer

    async def _execute(
        self, engine: ExecutionEngine, start: Start, remaining: Callable[[], float]
    ) -> ExecutionRecord:
        budget = remaining() - ABORT_MARGIN_SECONDS
        record = ExecutionRecord(
            workflow=start.workflow.name,
            input=start.input,
            source="function",
            idempotency_key=start.idempotency_key,
        )
        if budget <= 0:
            return _out_of_time(record)
        workflow = start.workflow
        limited = budget < workflow.timeout_seconds
        if limited:
            workflow = dataclasses.replace(workflow, timeout_seconds=budget)
        record = await engine.execute(workflow, record)
        if limited and record.error is not None and record.error.code == ExecutionTimeout.code:
            record.error = _invocation_timeout(budget)
        return record


def _messages(event: Any) -> list[tuple[str | None, ParsedNotification]]:
    """The notification, or each message of an SQS-triggered invocation with its id."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if isinstance(records, list) and records and all(_is_sqs(r) for r in records):
        return [(str(r.get("messageId", i)), _parse_message(r)) for i, r in enumerate(records)]
    return [(None, parse_notification(event))]


def _parse_message(record: Mapping[str, Any]) -> ParsedNotification:
    """One SQS message; a body that is no notification is ignored (retrying cannot fix it)."""
    try:
        return parse_notification(record.get("body", ""))
    except MalformedEvent as exc:
        return ParsedNotification(ignored=(IgnoredRecord(REASON_MALFORMED, exc.message),))


def _is_sqs(record: Any) -> bool:
    return isinstance(record, Mapping) and record.get("eventSource") == "aws:sqs"


def _invocation_timeout(budget: float) -> ErrorInfo:
    return ErrorInfo(
        code=ExecutionTimeout.code,
        message=f"the function invocation's remaining time ran out after {budget:.1f} s "
        f"(kept {ABORT_MARGIN_SECONDS:.0f} s to abort the upload); raise the function's "
        "timeout or split the work",
        transient=True,
    )


def _out_of_time(record: ExecutionRecord) -> ExecutionRecord:
    record.status = ExecutionStatus.FAILED
    record.error = _invocation_timeout(0.0)
    record.finished_at = utc_now()
    return record


def remaining_seconds(context: Any) -> float:
    """Seconds left in the invocation, from a Lambda or FunctionGraph context."""
    for name in ("get_remaining_time_in_millis", "getRemainingTimeInMilliSeconds"):
        method = getattr(context, name, None)
        if callable(method):
            return float(method()) / 1000.0
    raise TypeError(
        "the context has neither get_remaining_time_in_millis() (Lambda) nor "
        "getRemainingTimeInMilliSeconds() (FunctionGraph)"
    )


_lock = threading.Lock()
_runtimes: dict[tuple[str, float], FunctionRuntime] = {}


def _runtime(env: Mapping[str, str]) -> tuple[Path, FunctionRuntime | None]:
    name = env.get(WORKFLOWS_VARIABLE)
    if not name:
        raise WorkflowConfigError(
            f"{WORKFLOWS_VARIABLE} is not set: name the workflow file packaged with the function"
        )
    path = Path(name)
    if not path.is_absolute() and not path.exists():
        path = CODE_ROOT / path
    try:
        stamp = path.stat().st_mtime
    except OSError as exc:
        raise WorkflowConfigError(f"cannot read workflow file {path}: {exc.strerror}") from None
    with _lock:
        return path, _runtimes.get((str(path), stamp))


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda / FunctionGraph entry point: run the workflows ``event`` triggers."""
    remaining_seconds(context)  # fail fast on a context of neither platform
    env = dict(os.environ)
    path, runtime = _runtime(env)

    async def main() -> dict[str, Any]:
        nonlocal runtime
        if runtime is None:
            runtime = await FunctionRuntime.load(path, env)
            with _lock:
                _runtimes.clear()
                _runtimes[(str(path), path.stat().st_mtime)] = runtime
        return await runtime.invoke(event, lambda: remaining_seconds(context))

    return anyio.run(main)
