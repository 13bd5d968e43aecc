"""Multipart output written while it is still being produced, committed only when told.

:class:`MultipartWriter` is a pipeline sink. ``consume`` cuts incoming frames into parts of
``part_size`` and uploads up to ``parts_in_flight`` at once; it never completes the upload.
The runner calls ``commit()`` when every stage succeeded — it uploads the last (short) part
and completes — or ``abort()`` on any failure. Output smaller than one part is written with a
single PutObject at commit (nothing is visible before), and an empty output is an empty object.

Memory: at most ``part_size`` (the part being filled, plus one frame) + ``parts_in_flight ×
part_size`` (parts being uploaded). Parts are views of the frames that make them
(:class:`~storage_adapter.parts.PartBody`), never a joined copy.

Part sizes grow with the output and stop at a cap (:mod:`~storage_adapter.part_sizes`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any

import anyio

from storage_adapter.client import StorageIO
from storage_adapter.errors import (
    OutputTooLarge,
    RequestRejected,
    StorageError,
    UploadGone,
    call_mapped,
)
from storage_adapter.objects import WriteCondition, WriteResult, strip_etag, version_or_none
from storage_adapter.part_sizes import (
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    PARTS_PER_PART_SIZE,
    clamp_part_size,
    part_size_cap,
    part_size_of,
)
from storage_adapter.parts import PartBody
from storage_adapter.retry import RetryPolicy
from storage_adapter.streams import SinkContext, StageMetricsLike
from storage_adapter.uploads import abort_open_uploads, completed_output

logger = logging.getLogger(__name__)

#: Four 8 MiB parts in flight: each part also waits for its answer (100-continue, the last
#: byte's latency, the store's work), so across 40 MB/s and 20 ms two left the link idle in
#: between. A 256 MiB copy there, interleaved runs: 13.2 s with 2, 11.2 s with 3, 10.0 s with 4.
DEFAULT_PARTS_IN_FLIGHT = 4

UploadCallback = Callable[[str | None], Awaitable[None]]
#: The part checksum botocore sends by default, and the field that carries it.
CHECKSUM_ALGORITHM = "CRC32"
CHECKSUM_FIELD = "ChecksumCRC32"


def part_checksum_algorithm(client: Any) -> str | None:
    """``CRC32`` when ``client`` sends checksums it is not required to, else None.

    botocore then sends each part's CRC32; declaring it at CreateMultipartUpload and listing
    the parts' values at Complete (as s3transfer does) makes the store keep a composite
    checksum of the parts it verified. Without the declaration a store may fall back to a
    full-object checksum computed at Complete (moto reads the whole object a second time).
    Stores that refuse checksums (OBS) run with ``when_required``: nothing is declared.
    """
    config = getattr(getattr(client, "meta", None), "config", None)
    when = getattr(config, "request_checksum_calculation", None) or "when_supported"
    return CHECKSUM_ALGORITHM if when == "when_supported" else None


class MultipartWriter:
    """Writes a stream of byte frames to ``s3://bucket/key``; a bridge ``Sink``."""

    name = "write"

    def __init__(
        self,
        io: StorageIO,
        bucket: str,
        key: str,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        parts_in_flight: int = DEFAULT_PARTS_IN_FLIGHT,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        on_upload_changed: UploadCallback | None = None,
        retry: RetryPolicy | None = None,
        parts_per_size: int = PARTS_PER_PART_SIZE,
        max_output_bytes: int | None = None,
    ) -> None:
        if parts_in_flight < 1:
            raise ValueError("parts_in_flight must be at least 1")
        if parts_per_size < 1:
            raise ValueError("parts_per_size must be at least 1")
        self.io = io
        self.bucket = bucket
        self.key = key
        self.part_size = clamp_part_size(part_size)
        self.parts_in_flight = parts_in_flight
        self.parts_per_size = parts_per_size
        self.max_output_bytes = max_output_bytes
        #: The largest part this writer cuts (see the module docstring).
        self.part_size_cap = part_size_cap(max_output_bytes, self.part_size, parts_per_size)
        self.content_type = content_type or "application/octet-stream"
        self.metadata = dict(metadata or {})
        self.retry = retry or RetryPolicy()
        self._on_upload_changed = on_upload_changed
        self.upload_id: str | None = None
        #: Each uploaded part's ``PartNumber``, ``ETag`` and checksum, as Complete wants them.
        self._parts: dict[int, dict[str, Any]] = {}
        self.checksum_algorithm = part_checksum_algorithm(io.client)
        self._parts_started = 0
        self._tail = PartBody(())
        self._size = 0
        self._consumed = False
        self._finished = False
        #: Wall-clock time the first part finished uploading (None if none was).
        self.first_part_uploaded_at: float | None = None

    async def consume(self, ctx: SinkContext) -> None:
        """The bridge ``Sink`` end: :meth:`write_all` of the stage's input, with its metrics."""
        await self.write_all(ctx.input, metrics=ctx.metrics)

    async def write_all(
        self, chunks: AsyncIterable[bytes], *, metrics: StageMetricsLike | None = None
    ) -> None:
        """Upload full parts as chunks arrive; keep the short tail for ``commit``.

        A part is the views of the frames (or pieces of frames) that make it, uploaded as one
        :class:`~storage_adapter.parts.PartBody`: no frame is copied into a part buffer, so
        the part being filled costs at most ``part_size`` + one frame. A frame that is not
        ``bytes`` (a step's ``bytearray`` it might reuse) is copied once. Nothing is completed
        here: end of input is not success. Part sizes grow as :func:`part_size_of` says.
        """
        part_size = self._next_part_size()
        pieces: list[memoryview] = []
        filled = 0
        in_flight = anyio.Semaphore(self.parts_in_flight)
        async with anyio.create_task_group() as group:
            async for frame in chunks:
                self._size += len(frame)
                if self.max_output_bytes is not None and self._size > self.max_output_bytes:
                    raise OutputTooLarge(
                        f"output s3://{self.bucket}/{self.key} grew past the workflow's "
                        f"limits.max_output_bytes ({self.max_output_bytes}); nothing was "
                        "committed",
                        bucket=self.bucket,
                        key=self.key,
                    )
                view = memoryview(frame if isinstance(frame, bytes) else bytes(frame))
                while view.nbytes:
                    take = min(part_size - filled, view.nbytes)
                    pieces.append(view[:take])
                    filled += take
                    view = view[take:]
                    if filled == part_size:
                        part, pieces, filled = PartBody(pieces), [], 0
                        await in_flight.acquire()
                        number = await self._next_part_number()
                        group.start_soon(
                            self._upload_part_then_release, number, part, in_flight, metrics
                        )
                        part_size = self._next_part_size()
        self._tail = PartBody(pieces)
        self._consumed = True

    async def commit(self, condition: WriteCondition | None = None) -> WriteResult:
        """Upload the last part and complete (or PutObject a small output); idempotent.

        With ``condition`` the PutObject / CompleteMultipartUpload is conditional (``If-Match``
        or ``If-None-Match: *``); a store refusing it raises ``ObjectChanged`` (412) and the
        upload stays open, to be committed again or aborted.
        """
        if not self._consumed:
            raise RuntimeError("commit() before consume() finished")
        conditional = condition.params() if condition is not None else {}
        if self.upload_id is None:
            self._tail.seek(0)  # sent again from its first byte when a condition was refused
            response = await self.io.call(
                self._call,
                self.io.client.put_object,
                "PutObject",
                Bucket=self.bucket,
                Key=self.key,
                Body=self._tail if len(self._tail) else b"",
                ContentType=self.content_type,
                Metadata=self.metadata,
                **conditional,
            )
            self._finished = True
            return WriteResult(
                bucket=self.bucket,
                key=self.key,
                etag=strip_etag(response.get("ETag")),
                size=self._size,
                parts=0,
                version_id=version_or_none(response.get("VersionId")),
            )
        if len(self._tail):
            number = await self._next_part_number()
            await self._upload_part(number, self._tail)
            self._tail = PartBody(())  # a second commit (after a refused condition) sends none
        parts = [part for _, part in sorted(self._parts.items())]
        try:
            response = await self._with_retry(
                self._call,
                self.io.client.complete_multipart_upload,
                "CompleteMultipartUpload",
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                MultipartUpload={"Parts": parts},
                **conditional,
            )
        except UploadGone:
            # An earlier attempt may have completed it and only its answer was lost.
            response = await self.io.call(self._completed_earlier)
            if response is None:
                raise
        self._finished = True
        await self._notify(None)
        return WriteResult(
            bucket=self.bucket,
            key=self.key,
            etag=strip_etag(response.get("ETag")),
            size=self._size,
            parts=len(parts),
            version_id=version_or_none(response.get("VersionId")),
        )

    async def abort(self) -> None:
        """Abort the multipart upload if one was created; nothing becomes visible."""
        if self.upload_id is None or self._finished:
            return
        upload_id = self.upload_id
        with contextlib.suppress(UploadGone):  # already aborted (or never to be seen)
            await self._with_retry(
                self._call,
                self.io.client.abort_multipart_upload,
                "AbortMultipartUpload",
                Bucket=self.bucket,
                Key=self.key,
                UploadId=upload_id,
            )
        self._finished = True
        await self._notify(None)

    def _next_part_size(self) -> int:
        return part_size_of(
            self._parts_started + 1, self.part_size, self.parts_per_size, self.part_size_cap
        )

    async def _next_part_number(self) -> int:
        if self.upload_id is None:
            await self._create()
        self._parts_started += 1
        number = self._parts_started
        if number > MAX_PARTS:
            raise RequestRejected(
                f"output s3://{self.bucket}/{self.key} needs more than {MAX_PARTS} parts "
                "even with growing parts; raise part_size, or set the workflow's "
                "max_output_bytes so that parts grow enough",
                bucket=self.bucket,
                key=self.key,
            )
        return number

    async def _create(self) -> None:
        attempts = 0
        checksum = {"ChecksumAlgorithm": self.checksum_algorithm} if self.checksum_algorithm else {}

        def create() -> Any:
            nonlocal attempts
            attempts += 1
            return self._call(
                self.io.client.create_multipart_upload,
                "CreateMultipartUpload",
                Bucket=self.bucket,
                Key=self.key,
                ContentType=self.content_type,
                Metadata=self.metadata,
                **checksum,
            )

        response = await self._with_retry(create)
        self.upload_id = response["UploadId"]
        await self._notify(self.upload_id)
        retried = attempts > 1 or response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        if retried:
            await self.io.call(self._abort_lost_uploads)

    def _completed_earlier(self) -> dict[str, Any] | None:
        """The object's HEAD if it is this writer's completed output (marker and size match)."""
        try:
            found = completed_output(
                self.io.client, self.bucket, self.key, metadata=self.metadata, size=self._size
            )
        except StorageError:
            return None
        if found is None:
            return None
        logger.warning(
            "s3://%s/%s: completed by an attempt whose answer was lost", self.bucket, self.key
        )
        return {"ETag": found.etag, "VersionId": found.version_id}

    def _abort_lost_uploads(self) -> None:
        """Abort uploads of this key that a retried create may have opened unseen.

        When the answer to CreateMultipartUpload is lost after the store created the upload,
        the retry opens a second one and the first id is never known. So after a retried
        create, the other open uploads of exactly this key are aborted (their ``Initiated``
        time cannot be trusted: some stores answer a fixed date). Another writer uploading
        the same key at that moment would see its upload fail, transiently, and retry.
        """
        for upload_id in abort_open_uploads(
            self.io.client, self.bucket, self.key, keep=self.upload_id
        ):
            logger.warning("aborted upload %s left by a retried create", upload_id)

    async def _upload_part_then_release(
        self,
        number: int,
        data: PartBody,
        in_flight: anyio.Semaphore,
        metrics: StageMetricsLike | None,
    ) -> None:
        try:
            await self._upload_part(number, data)
        finally:
            data.close()  # its frames go now, before the next part is cut
            in_flight.release()
        if metrics is not None:
            metrics.extra["parts_uploaded"] = len(self._parts)
            if self.first_part_uploaded_at is not None:
                metrics.extra["first_part_uploaded_at"] = self.first_part_uploaded_at

    async def _upload_part(self, number: int, data: PartBody) -> None:
        def upload() -> Any:
            data.seek(0)  # a retry sends the part again from its first byte
            return self._call(
                self.io.client.upload_part,
                "UploadPart",
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=data,
            )

        response = await self._with_retry(upload)
        part = {"PartNumber": number, "ETag": response["ETag"]}
        if self.checksum_algorithm and response.get(CHECKSUM_FIELD):
            part[CHECKSUM_FIELD] = response[CHECKSUM_FIELD]
        self._parts[number] = part
        if self.first_part_uploaded_at is None:
            self.first_part_uploaded_at = time.time()

    async def _with_retry(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        async for attempt in self.retry.retrying():
            with attempt:
                return await self.io.call(function, *args, **kwargs)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _notify(self, upload_id: str | None) -> None:
        if self._on_upload_changed is not None:
            await self._on_upload_changed(upload_id)

    def _call(self, method: Callable[..., Any], action: str, **params: Any) -> Any:
        return call_mapped(method, action, bucket=self.bucket, key=self.key, **params)
