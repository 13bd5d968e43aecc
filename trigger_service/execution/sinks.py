"""Sinks that also stream the output to a caller (synchronous executions), and taking back an
output a fan-out committed before one of its siblings failed to."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

from botocore.exceptions import ClientError

from bridge import StageContext
from storage_adapter import MultipartWriter, StorageIO, WriteResult

logger = logging.getLogger(__name__)

FrameCallback = Callable[[bytes], Awaitable[None]]


async def teed(frames: AsyncIterable[bytes], tee: FrameCallback) -> AsyncIterator[bytes]:
    """``frames``, each handed to ``tee`` before it is passed on."""
    async for frame in frames:
        await tee(bytes(frame))
        yield frame


class TeeSink:
    """Forwards every output frame to ``tee`` before the writer takes it."""

    def __init__(self, writer: MultipartWriter, tee: FrameCallback) -> None:
        self.writer = writer
        self.name = writer.name
        self._tee = tee

    async def consume(self, ctx: StageContext) -> None:
        """Stream each frame to the caller, then to the writer."""
        await self.writer.write_all(teed(ctx.input, self._tee), metrics=ctx.metrics)

    async def commit(self) -> WriteResult:
        """Commit the writer's upload."""
        return await self.writer.commit()

    async def abort(self) -> None:
        """Abort the writer's upload."""
        await self.writer.abort()


class StreamOnlySink:
    """Streams the output to ``tee`` and stores nothing (``?store=false``)."""

    name = "respond"

    def __init__(self, bucket: str, key: str, tee: FrameCallback) -> None:
        self._bucket = bucket
        self._key = key
        self._tee = tee
        self._size = 0

    async def consume(self, ctx: StageContext) -> None:
        """Stream each frame to the caller."""
        async for frame in ctx.input:
            self._size += len(frame)
            await self._tee(bytes(frame))

    async def commit(self) -> WriteResult:
        """Nothing to make visible; reports what was streamed."""
        return WriteResult(bucket=self._bucket, key=self._key, etag=None, size=self._size, parts=0)

    async def abort(self) -> None:
        """Nothing to discard."""


async def delete_output(io: StorageIO, written: WriteResult, execution_id: str) -> None:
    """Delete an output this execution committed: the very version written, if versioned.

    In an unversioned bucket the key is deleted, whatever an earlier object under it held
    (it was overwritten by this output already).
    """

    def delete() -> None:
        try:
            if written.version_id is None:
                io.client.delete_object(Bucket=written.bucket, Key=written.key)
            else:
                io.client.delete_object(
                    Bucket=written.bucket, Key=written.key, VersionId=written.version_id
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404"}:
                raise

    await io.call(delete)
    logger.warning(
        "execution %s: deleted its output s3://%s/%s (version %s): another output failed",
        execution_id,
        written.bucket,
        written.key,
        written.version_id,
    )
