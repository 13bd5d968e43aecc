"""Thumbnails of an execution's input or output: ``GET /executions/{id}/preview``.

``?side=input|output&max=256`` (``&output=NAME`` for one output of a fan-out, default its
first): the object (pinned to the record's etag and version) is read
with ranged GETs and streamed through the same stages as a workflow — decode with
shrink-on-load, ``compress`` to fit ``max × max`` as WebP (alpha kept), encode — into a
small buffer. Objects over :data:`MAX_SOURCE_BYTES` and thumbnails over
:data:`MAX_THUMBNAIL_BYTES` are refused. Answers are kept :data:`CACHE_SECONDS` in a small
in-process cache (and as long in the browser), and at most :data:`CONCURRENT_PREVIEWS` are
made at once, so a page full of thumbnails cannot starve the executions.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio
from starlette.requests import Request
from starlette.responses import Response

from bridge import Stage, StageContext, StageFailed, run_pipeline
from steps import configure_step, plan_steps, to_stage
from steps.image import COMPRESS
from storage_adapter import StorageError
from trigger_service.api.access import authenticate_viewer
from trigger_service.api.params import int_param
from trigger_service.errors import InvalidRequest, PreviewUnavailable
from trigger_service.execution.engine import pinned_reader
from trigger_service.execution.failures import error_info
from trigger_service.records import ExecutionRecord, ObjectRef
from trigger_service.service import Service

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
#: Largest object a thumbnail is made of.
MAX_SOURCE_BYTES = 64 * MiB
#: Largest thumbnail kept; a bigger one is refused rather than held.
MAX_THUMBNAIL_BYTES = 2 * MiB
MIN_EDGE, DEFAULT_EDGE, MAX_EDGE = 16, 256, 1024
CACHE_SECONDS = 60.0
CACHE_ENTRIES = 128
CONCURRENT_PREVIEWS = 2
MEDIA_TYPE = "image/webp"


class _BufferSink:
    """Collects a small encoded thumbnail, refusing more than ``limit`` bytes."""

    name = "thumbnail"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    async def consume(self, ctx: StageContext) -> None:
        async for frame in ctx.input:
            self.size += len(frame)
            if self.size > self.limit:
                raise PreviewUnavailable(f"the thumbnail is larger than {self.limit} bytes")
            self.parts.append(bytes(frame))

    async def commit(self) -> bytes:
        return b"".join(self.parts)

    async def abort(self) -> None:
        self.parts.clear()


@dataclass
class PreviewCache:
    """Recent thumbnails by object version and size, for :data:`CACHE_SECONDS`."""

    entries: OrderedDict[tuple[str, ...], tuple[float, bytes]] = field(default_factory=OrderedDict)
    limiter: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(CONCURRENT_PREVIEWS)
    )

    def get(self, key: tuple[str, ...]) -> bytes | None:
        """A fresh cached thumbnail, or None."""
        found = self.entries.get(key)
        if found is None or time.monotonic() - found[0] > CACHE_SECONDS:
            self.entries.pop(key, None)
            return None
        return found[1]

    def put(self, key: tuple[str, ...], data: bytes) -> None:
        """Keep ``data``, dropping the oldest entries beyond :data:`CACHE_ENTRIES`."""
        self.entries[key] = (time.monotonic(), data)
        self.entries.move_to_end(key)
        while len(self.entries) > CACHE_ENTRIES:
            self.entries.popitem(last=False)


async def make_thumbnail(service: Service, source: ObjectRef, edge: int) -> bytes:
    """A WebP of ``source`` fitting ``edge × edge``; raises :class:`PreviewUnavailable`."""
    reader = pinned_reader(service.io, source, service.config.transfer)
    info = await reader.stat()
    if info.size > MAX_SOURCE_BYTES:
        raise PreviewUnavailable(
            f"the object is {info.size} bytes; thumbnails are made of at most {MAX_SOURCE_BYTES}"
        )
    thumbnail = configure_step(
        COMPRESS,
        {"max_width": edge, "max_height": edge, "format": "webp", "quality": 75},
    )
    log = logging.LoggerAdapter(logger, {"preview": f"{source.bucket}/{source.key}"})
    stages = [Stage("read", reader.run)] + [to_stage(s, log) for s in plan_steps([thumbnail])]
    try:
        result = await run_pipeline(stages, _BufferSink(MAX_THUMBNAIL_BYTES))
    except StageFailed as exc:
        error = error_info(exc)
        if isinstance(exc.error, PreviewUnavailable):
            raise exc.error from None
        raise PreviewUnavailable(f"no thumbnail: {error.code}: {error.message}") from None
    return result.output


async def preview(request: Request) -> Response:
    """``GET /executions/{id}/preview?side=input|output&max=256``."""
    service = authenticate_viewer(request)
    side = request.query_params.get("side", "output")
    if side not in {"input", "output"}:
        raise InvalidRequest(f"side: must be input or output, got {side[:20]!r}")
    edge = int_param(request.query_params.get("max"), "max", DEFAULT_EDGE, MIN_EDGE, MAX_EDGE)
    record = await service.store.get(request.path_params["execution_id"])
    source = record.input if side == "input" else _output(record, request.query_params)
    if source is None:
        raise PreviewUnavailable(f"execution {record.id} has no output (it is {record.status})")
    cache: PreviewCache = _cache(request)
    key = (source.bucket, source.key, source.etag or "", source.version_id or "", str(edge))
    data = cache.get(key)
    if data is None:
        async with cache.limiter:
            data = cache.get(key)
            if data is None:
                try:
                    data = await make_thumbnail(service, source, edge)
                except StorageError as exc:
                    raise PreviewUnavailable(f"{exc.code}: {exc.message}") from None
                cache.put(key, data)
    headers = {"Cache-Control": f"private, max-age={int(CACHE_SECONDS)}"}
    return Response(data, media_type=MEDIA_TYPE, headers=headers)


def _output(record: ExecutionRecord, query: Mapping[str, str]) -> ObjectRef | None:
    """The output to show: ``?output=NAME`` of a fan-out (default its first), else the one."""
    name = query.get("output")
    if not record.outputs:
        return record.output
    if not name:
        return record.outputs[0]
    for output in record.outputs:
        if output.name == name:
            return output
    known = ", ".join(output.name for output in record.outputs)
    raise PreviewUnavailable(f"execution {record.id} has no output {name[:40]!r} (it has {known})")


def _cache(request: Request) -> PreviewCache:
    cache = getattr(request.app.state, "preview_cache", None)
    if not isinstance(cache, PreviewCache):
        cache = request.app.state.preview_cache = PreviewCache()
    return cache
