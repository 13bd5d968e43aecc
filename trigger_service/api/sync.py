"""Synchronous executions: the final output handed to the caller chunk by chunk as produced.

The engine runs in the service's task group (under the executor's run slots) and its ``tee``
sends every output chunk into a bounded memory stream of :data:`STREAM_BUFFER_CHUNKS`; the HTTP
response reads the other end. A slow client therefore slows the pipeline down instead of
filling memory, and a client that goes away fails the execution (``ClientDisconnected``) and
aborts its upload. No retries: a second attempt could not be streamed to the same caller. No
deduplication either: every call is an execution of its own (the caller wants the bytes).

Direct uploads (a raw-bytes request body) are first streamed into the workflow's trigger
bucket under ``uploads/<execution id><ext>`` (``ext`` from the Content-Type), tagged with
``x-amz-meta-bucketstream-upload`` so that the bucket's own notification starts nothing.
They are kept, like every input; a lifecycle rule on ``uploads/`` can expire them.
"""

from __future__ import annotations

import logging
import mimetypes
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from bridge import root_cause
from storage_adapter import MultipartWriter, StorageIO
from trigger_service.errors import ClientDisconnected
from trigger_service.execution.admission import Reservation
from trigger_service.execution.executor import Executor
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.workflows.loops import upload_marker
from trigger_service.workflows.model import Workflow

logger = logging.getLogger(__name__)

#: Output chunks buffered between the pipeline and a synchronous response.
STREAM_BUFFER_CHUNKS = 4
#: Where direct uploads go in the workflow's trigger bucket.
DIRECT_UPLOAD_PREFIX = "uploads/"
#: ``details`` entry of the sink step: when the first output chunk went to the caller.
FIRST_STREAMED_AT = "first_streamed_at"


class SyncExecutionFailed(Exception):
    """A synchronous execution failed after its first output byte was sent.

    Deliberately not a :class:`TriggerServiceError`: no handler may turn it into a JSON
    answer, the server must drop the connection.
    """

    code = "ExecutionFailed"


def direct_upload_key(execution_id: str, content_type: str | None) -> str:
    """``uploads/<execution id><ext>``, the extension guessed from ``content_type``."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    extension = mimetypes.guess_extension(media_type) if media_type else None
    if media_type == "image/jpeg":
        extension = ".jpg"
    return f"{DIRECT_UPLOAD_PREFIX}{execution_id}{extension or ''}"


async def upload_stream(
    io: StorageIO,
    bucket: str,
    key: str,
    chunks: AsyncIterator[bytes],
    *,
    execution_id: str,
    content_type: str | None,
    part_size: int,
    parts_in_flight: int,
    before_commit: Callable[[], object] | None = None,
) -> ObjectRef:
    """Stream ``chunks`` into ``s3://bucket/key`` with multipart upload; aborts on any error.

    ``before_commit`` runs once every chunk is written; if it raises, the upload is aborted
    and nothing is stored (used to take a queue slot only once the body is in).
    """
    writer = MultipartWriter(
        io,
        bucket,
        key,
        part_size=part_size,
        parts_in_flight=parts_in_flight,
        content_type=content_type or "application/octet-stream",
        metadata=upload_marker(execution_id),
    )
    try:
        await writer.write_all(chunks)
        if before_commit is not None:
            before_commit()
        result = await writer.commit()
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await writer.abort()
        cause = root_cause(exc)
        if cause is not exc and isinstance(cause, Exception):
            raise cause from exc
        raise
    return ObjectRef.of(result)


class SyncExecution:
    """A started synchronous execution: ``await first_chunk()``, then ``chunks(first)``."""

    def __init__(self, record: ExecutionRecord) -> None:
        self.execution_id = record.id
        self.record = record
        send, receive = anyio.create_memory_object_stream[bytes](STREAM_BUFFER_CHUNKS)
        self._send: MemoryObjectSendStream[bytes] = send
        self._receive: MemoryObjectReceiveStream[bytes] = receive
        self._done = anyio.Event()
        self._first_streamed_at: float | None = None
        #: The final record, once the execution ended (None if it was cancelled).
        self.result: ExecutionRecord | None = None

    def start(
        self,
        group: TaskGroup,
        executor: Executor,
        reservation: Reservation,
        workflow: Workflow,
        *,
        store_output: bool,
        output_name: str | None = None,
    ) -> None:
        """Run the execution in ``group`` (the service's), in ``reservation``'s slot.

        ``output_name`` picks the output of a fan-out workflow streamed back (default: its
        first); the others are written too, unless ``store_output`` is False.
        """
        group.start_soon(self._run, executor, reservation, workflow, store_output, output_name)

    async def first_chunk(self) -> bytes | None:
        """The first output chunk, or None when the execution ended without one."""
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            await self._done.wait()
            return None

    async def final(self) -> ExecutionRecord:
        """The record once the execution has ended."""
        await self._done.wait()
        if self.result is None:
            raise SyncExecutionFailed("the execution was cancelled (is the service stopping?)")
        return self.result

    async def chunks(self, first: bytes) -> AsyncGenerator[bytes, None]:
        """``first`` then every later chunk; raises if the execution then fails.

        Raising (rather than ending) makes the server drop the connection without the final
        empty chunk, so the caller sees a truncated transfer, never a short "complete" body.
        """
        yield first
        async for chunk in self._receive:
            yield chunk
        record = await self.final()
        if record.status is not ExecutionStatus.SUCCEEDED:
            error = record.error
            detail = f"{error.code}: {error.message}" if error else "unknown error"
            raise SyncExecutionFailed(
                f"execution {record.id} failed after its output started: {detail}"
            )

    def close(self) -> None:
        """Stop receiving: the pipeline's next chunk fails it with ClientDisconnected."""
        self._receive.close()

    async def _tee(self, chunk: bytes) -> None:
        if not chunk:
            return
        try:
            await self._send.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise ClientDisconnected(
                "the caller went away before the output was complete; nothing was stored"
            ) from None
        if self._first_streamed_at is None:
            self._first_streamed_at = time.time()

    async def _run(
        self,
        executor: Executor,
        reservation: Reservation,
        workflow: Workflow,
        store_output: bool,
        output_name: str | None,
    ) -> None:
        try:
            record = await executor.run_now(
                reservation,
                workflow,
                self.record,
                tee=self._tee,
                store_output=store_output,
                output_name=output_name,
            )
            if self._first_streamed_at is not None and record.steps:
                # the sink of the output streamed back: the last step, or its branch's last
                prefix = f"{workflow.branch(output_name).name}." if workflow.fan_out else ""
                sink = [step for step in record.steps if step.name.startswith(prefix)][-1]
                sink.details[FIRST_STREAMED_AT] = self._first_streamed_at
                try:
                    await executor.store.save(record)
                except Exception:
                    logger.exception("execution %s: could not save its record", record.id)
            self.result = record
        finally:
            reservation.release()
            self._done.set()
            self._send.close()
