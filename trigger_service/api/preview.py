"""Thumbnails of an execution's input or output: ``GET /executions/{id}/preview``.

``?side=input|output&max=256`` (``&output=NAME`` for one output of a fan-out, default its
first): the object (pinned to the record's etag and version) is read
with ranged GETs and streamed through the same stages as a workflow — decode with
shrink-on-load, ``compress`` to fit ``max × max`` as WebP (alpha kept), encode — into a
small buffer. Objects over :data:`MAX_SOURCE_BYTES` (checked with the HEAD, before any
GET), pictures over :data:`MAX_SOURCE_PIXELS` (summed over an animation's frames) and
thumbnails over :data:`MAX_THUMBNAIL_BYTES` are refused. Answers are kept
:data:`CACHE_SECONDS` in a small in-process cache (and as long in the browser); failures are
kept too (:data:`FAILURE_SECONDS`, a transient storage error :data:`TRANSIENT_FAILURE_SECONDS`),
so a page showing a broken source does not read and decode it again on every view.

A thumbnail is made in the service's task group, at most :data:`CONCURRENT_PREVIEWS` at once
(the slot held until the work has really ended: a decode thread cannot be interrupted), at
most :data:`PENDING_PREVIEWS` waiting, and one at a time per object version and size (later
callers wait for the same one). A caller waits at most :data:`PREVIEW_SECONDS`; past it the
answer is ``404 PreviewUnavailable`` and, when the work had started, that failure is cached
until the work ends on its own (its outcome is then cached instead).
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
MAX_SOURCE_BYTES = 32 * MiB
#: Largest picture (width × height, summed over frames) a thumbnail is made of.
MAX_SOURCE_PIXELS = 50_000_000
#: Largest thumbnail kept; a bigger one is refused rather than held.
MAX_THUMBNAIL_BYTES = 2 * MiB
MIN_EDGE, DEFAULT_EDGE, MAX_EDGE = 16, 256, 1024
CACHE_SECONDS = 60.0
#: How long a failure to make a thumbnail is remembered (an object version does not change).
FAILURE_SECONDS = 600.0
#: How long a transient failure (the storage unreachable) is remembered.
TRANSIENT_FAILURE_SECONDS = 10.0
CACHE_ENTRIES = 128
CONCURRENT_PREVIEWS = 2
#: Thumbnails waiting for one of the :data:`CONCURRENT_PREVIEWS` slots, at most.
PENDING_PREVIEWS = 16
#: Longest a caller waits for a thumbnail, in seconds.
PREVIEW_SECONDS = 10.0
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


CacheKey = tuple[str, ...]


@dataclass(frozen=True)
class _Entry:
    at: float
    ttl: float
    data: bytes | None = None
    error: PreviewUnavailable | None = None


@dataclass
class PreviewCache:
    """Recent thumbnails and failures by object version and size, and the work under way."""

    entries: OrderedDict[CacheKey, _Entry] = field(default_factory=OrderedDict)
    limiter: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(CONCURRENT_PREVIEWS)
    )
    #: Thumbnails being made (or waiting for a slot): set once each has ended.
    making: dict[CacheKey, anyio.Event] = field(default_factory=dict)
    #: Those of :attr:`making` that hold a slot (their work has started).
    started: set[CacheKey] = field(default_factory=set)

    def get(self, key: CacheKey) -> bytes | None:
        """A fresh cached thumbnail, or None; raises a fresh cached failure."""
        found = self.entries.get(key)
        if found is None or time.monotonic() - found.at > found.ttl:
            self.entries.pop(key, None)
            return None
        if found.error is not None:
            raise PreviewUnavailable(found.error.message)
        return found.data

    def put(self, key: CacheKey, data: bytes) -> None:
        """Keep ``data`` for :data:`CACHE_SECONDS`."""
        self._keep(key, _Entry(time.monotonic(), CACHE_SECONDS, data=data))

    def fail(self, key: CacheKey, error: PreviewUnavailable, ttl: float = FAILURE_SECONDS) -> None:
        """Remember that no thumbnail could be made, for ``ttl`` seconds."""
        self._keep(key, _Entry(time.monotonic(), ttl, error=error))

    def _keep(self, key: CacheKey, entry: _Entry) -> None:
        self.entries[key] = entry
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
    planned = plan_steps([thumbnail], image_options={"max_pixels": MAX_SOURCE_PIXELS})
    stages = [Stage("read", reader.run)] + [to_stage(s, log) for s in planned]
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
    data = await _thumbnail(service, cache, key, source, edge)
    headers = {"Cache-Control": f"private, max-age={int(CACHE_SECONDS)}"}
    return Response(data, media_type=MEDIA_TYPE, headers=headers)


async def _thumbnail(
    service: Service, cache: PreviewCache, key: CacheKey, source: ObjectRef, edge: int
) -> bytes:
    """The cached thumbnail, or the one being made, waited for :data:`PREVIEW_SECONDS`."""
    data = cache.get(key)
    if data is not None:
        return data
    done = cache.making.get(key)
    if done is None:
        if len(cache.making) >= PENDING_PREVIEWS:
            raise PreviewUnavailable(
                f"{PENDING_PREVIEWS} thumbnails are being made; try again in a moment"
            )
        done = cache.making[key] = anyio.Event()
        service.task_group.start_soon(_make, service, cache, key, source, edge, done)
    with anyio.move_on_after(PREVIEW_SECONDS):
        await done.wait()
    data = cache.get(key)
    if data is not None:
        return data
    error = PreviewUnavailable(
        f"the thumbnail was not made within {PREVIEW_SECONDS:g} s; the source is too "
        "large or too complex to preview"
    )
    if key in cache.started:
        cache.fail(key, error)  # until the work ends on its own
    raise error


async def _make(
    service: Service,
    cache: PreviewCache,
    key: CacheKey,
    source: ObjectRef,
    edge: int,
    done: anyio.Event,
) -> None:
    """Make one thumbnail in a slot and cache what came of it."""
    try:
        async with cache.limiter:
            cache.started.add(key)
            try:
                cache.put(key, await make_thumbnail(service, source, edge))
            except StorageError as exc:
                ttl = TRANSIENT_FAILURE_SECONDS if exc.transient else FAILURE_SECONDS
                cache.fail(key, PreviewUnavailable(f"{exc.code}: {exc.message}"), ttl)
            except PreviewUnavailable as exc:
                cache.fail(key, exc)
            except Exception as exc:
                logger.exception("no thumbnail of s3://%s/%s", source.bucket, source.key)
                cache.fail(key, PreviewUnavailable(f"no thumbnail: {type(exc).__name__}"))
    finally:
        cache.started.discard(key)
        cache.making.pop(key, None)
        done.set()


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
