"""decode: bytes in, a :class:`Picture` (or its strips) out, decoded while the object downloads.

``decode_stream`` is pure Pillow on a blocking :class:`ChunkReader`: ``Image.open`` with a format
whitelist → pixel-count check as soon as the header is known (raises before the body is read)
→ the smallest JPEG DCT scale that still covers ``target_size × oversample`` (:mod:`.shrink`) →
``load``. The ``decode`` step runs it in a worker thread whose reader pulls chunks from the
stage input (one trip to the event loop per chunk): a chunk already there is taken with the
thread's CPU token kept, and only a wait for one lends the token back (:class:`CpuGate`). The
step records decode progress in the stage metrics and sets up Pillow's image memory
(:mod:`.blocks`). When the next step takes strips, an upright RGB JPEG goes on in bands of
rows while it decodes (:mod:`.rows`): the decoding thread only announces each finished band,
and a second thread copies it and sends it on (:mod:`.band_feed`); other pictures go on whole
once decoded.

``Image.MAX_IMAGE_PIXELS`` is never changed and ``LOAD_TRUNCATED_IMAGES`` never set: the limit
is checked here with the workflow's ``max_pixels``; Pillow's own decompression-bomb check
(at its global limit) still applies on top and is reported as :class:`ImageTooLarge` too.
Corrupt EXIF is dropped (orientation counts as upright) and noted; the pixels are still used.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import IO, Any, cast

import anyio.from_thread
import anyio.to_thread
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from bridge import StageMetrics
from steps.api import StepContext, StepDefinition
from steps.cpu import CpuGate
from steps.errors import (
    EmptyInput,
    ImageTooLarge,
)
from steps.image.codec.band_feed import BandFeed
from steps.image.codec.blocks import use_heap_blocks
from steps.image.codec.exif import CorruptExif, ExifData, parse_exif
from steps.image.codec.formats import (
    ANIMATED_FORMATS,
    DECODABLE_FORMATS,
    DEFAULT_DECODE_FORMATS,
    STREAMED_FORMATS,
    decode_format,
)
from steps.image.codec.frames import DEFAULT_MAX_FRAMES, load_frames, pixel_info, still_fallback
from steps.image.codec.metadata import DEFAULT_METADATA, STRIP_POLICIES, MetadataPolicy
from steps.image.codec.pillow_errors import pillow_errors
from steps.image.codec.rows import RowBands, watchable
from steps.image.codec.shrink import shrink_on_load
from steps.image.codec.streams import CHUNK_SIZE, ChunkReader
from steps.image.picture import EncodeOptions, Picture, swaps_axes
from steps.image.strips import PictureStrip, pixel_bytes, strip_rows, write_strips

#: Pillow's default decompression-bomb limit (about 89.5 megapixels).
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
#: How much larger than the target a shrink-on-load keeps the image, for the final resize: 1.0
#: decodes at the smallest scale that still covers the box (what sharp's default
#: ``fastShrinkOnLoad`` does); 1.4-2 keeps fine patterns (fabric, small text) crisper.
DEFAULT_OVERSAMPLE = 1.0
#: Compressed bytes Pillow gives libjpeg per call (its default is 64 KiB). Each call ends with
#: the decoding thread taking the GIL back and checking for finished bands; 256 KiB makes ~31
#: calls for an 8 MB photo instead of ~122. Measured on the 24 MP job, 10 interleaved runs:
#: 0.333 -> 0.294 s with 512 KiB, 256 KiB alike; 2 MiB was slower (bands came in bursts).
JPEG_READ_SIZE = 256 * 1024


class DecodeParams(BaseModel):
    """Parameters of ``decode``: set by the planner and the workflow's ``image`` options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="largest (width, height) the next step needs; None: full size"
    )
    formats: tuple[str, ...] = Field(
        default=DEFAULT_DECODE_FORMATS,
        min_length=1,
        description=f"formats that may be opened, from {', '.join(DECODABLE_FORMATS)}",
    )
    max_pixels: PositiveInt = Field(
        default=DEFAULT_MAX_PIXELS, description="largest width × height (summed over frames)"
    )
    max_frames: PositiveInt = Field(
        default=DEFAULT_MAX_FRAMES, description="most frames an animation may have"
    )
    oversample: float = Field(
        default=DEFAULT_OVERSAMPLE, ge=1.0, le=8.0, description="shrink-on-load margin"
    )
    metadata: MetadataPolicy = Field(
        default=DEFAULT_METADATA, description="keep-icc | keep | strip-gps | strip"
    )
    strips: bool = Field(
        default=False, description="emit the upright picture as strips (set by the planner)"
    )
    one_strip: bool = Field(
        default=False,
        description="the picture as a single strip, for a step that reads windows of it",
    )

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(decode_format(name) for name in value))


@dataclass
class DecodeProgress:
    """When each decode phase happened (``time.time()``) and how many bytes had arrived."""

    header_at: float | None = None
    header_bytes: int = 0
    load_started_at: float | None = None
    load_started_bytes: int = 0
    load_finished_at: float | None = None
    load_finished_bytes: int = 0
    declared_size: tuple[int, int] | None = None
    decoded_size: tuple[int, int] | None = None
    #: Declared width over decoded width (2.667 for a DCT scale of 3/8).
    draft_scale: float = 1.0
    frames: int = 0
    streamed: bool = False
    #: Bands of rows announced while the picture decoded (0: sent once decoded).
    bands: int = 0
    #: CPU time of the decoding thread (header, decode, bands), in seconds.
    cpu_seconds: float = 0.0

    def as_extra(self, reader: ChunkReader | None = None) -> dict[str, Any]:
        """Entries for ``StageMetrics.extra``, prefixed ``decode_``; sizes as width and height."""
        data: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, tuple):
                name = key.removesuffix("_size")
                data[f"decode_{name}_width"], data[f"decode_{name}_height"] = value
            else:
                data[f"decode_{key}"] = value
        if reader is not None:
            data["decode_peak_buffered_bytes"] = reader.peak_buffered
            data["decode_input_ended_at"] = reader.ended_at
        return data


def draft_request(
    declared: tuple[int, int], target: tuple[int, int], oversample: float, orientation: int = 1
) -> tuple[int, int] | None:
    """The size to ask ``Image.draft`` for, or None when no reduction is possible.

    ``target`` is the box the final (upright) image must fit in; the result keeps the source
    aspect ratio so that Pillow's per-axis check picks the smallest scale covering the box.
    """
    box_w, box_h = (target[1], target[0]) if swaps_axes(orientation) else target
    width, height = declared
    scale = min(box_w / width, box_h / height) * oversample
    if scale >= 1:
        return None
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def decode_stream(
    reader: ChunkReader,
    params: DecodeParams,
    progress: DecodeProgress | None = None,
    feed: BandFeed | None = None,
) -> Picture:
    """Decode the image ``reader`` delivers; raises a typed :class:`InputError` on bad input.

    With ``feed``, an upright RGB JPEG is announced there in bands of rows while it decodes
    (:mod:`.rows`); ``progress.bands`` then says how many, and the returned picture holds
    nothing that the feed does not. The feed is closed at the end (as failed if this raises).
    The reader is released afterwards: Pillow's image objects may keep a reference to it.
    """
    progress = progress if progress is not None else DecodeProgress()
    began = time.thread_time()
    failed = True
    try:
        picture = _decode(reader, params, progress, feed)
        failed = False
        return picture
    finally:
        progress.cpu_seconds = round(time.thread_time() - began, 4)
        reader.release()
        if feed is not None:
            feed.close(failed=failed)


def _decode(
    reader: ChunkReader,
    params: DecodeParams,
    progress: DecodeProgress,
    feed: BandFeed | None,
) -> Picture:
    if reader.is_empty():
        raise EmptyInput("the object is empty (0 bytes): there is no image to decode")
    with pillow_errors(reader, params.formats):
        image = Image.open(cast(IO[bytes], reader), formats=list(params.formats))
    progress.header_at, progress.header_bytes = time.time(), reader.bytes_received
    progress.declared_size = image.size
    _check_pixels(image.size, params.max_pixels)
    header_exif = image.info.get("exif")
    exif, notes = _checked_exif(header_exif)
    orientation = exif.orientation if exif is not None else 1
    bands: RowBands | None = None
    with pillow_errors(reader, params.formats):
        animated = image.format in ANIMATED_FORMATS and bool(getattr(image, "is_animated", False))
        if params.target_size is not None and not animated:
            request = draft_request(image.size, params.target_size, params.oversample, orientation)
            if request is not None:
                shrink_on_load(image, request)
        progress.streamed = image.format in STREAMED_FORMATS and not animated
        if progress.streamed:
            reader.stream()
            if image.format == "JPEG":
                image.decodermaxblock = JPEG_READ_SIZE
                if feed is not None and orientation == 1 and watchable(image):
                    header = image.info
                    template = _picture(image, params, header, exif, orientation, notes, progress)
                    rows = strip_rows(image.width, pixel_bytes(image.mode))
                    bands = RowBands(image, rows, feed.ready)
                    feed.start(functools.partial(_band_strip, bands, template))
                    reader.before_streamed_reads(bands.poll)
        progress.load_started_at, progress.load_started_bytes = time.time(), reader.bytes_received
        broken: list[str] = []
        frames, durations, loop, info = load_frames(
            image,
            animated,
            params.max_pixels,
            still_fallback(reader, image.format, broken),
            params.max_frames,
        )
        notes += tuple(broken)
        if bands is not None:
            reader.before_streamed_reads(None)
            bands.finish()
            progress.bands = bands.bands
    progress.load_finished_at, progress.load_finished_bytes = time.time(), reader.bytes_received
    progress.decoded_size, progress.frames = frames[0].size, len(frames)
    progress.draft_scale = round(progress.declared_size[0] / frames[0].width, 3)
    if info.get("exif") != header_exif:
        exif, more = _checked_exif(info.get("exif"))  # e.g. a PNG eXIf chunk after the pixels
        notes += more
        orientation = exif.orientation if exif is not None else 1
    picture = _picture(image, params, info, exif, orientation, notes, progress)
    return replace(picture, frames=frames, durations=durations, loop=loop)


def _picture(
    image: Image.Image,
    params: DecodeParams,
    info: dict[Any, Any],
    exif: ExifData | None,
    orientation: int,
    notes: tuple[str, ...],
    progress: DecodeProgress,
) -> Picture:
    """The picture's metadata around ``image`` (its frames are set by the caller)."""
    return Picture(
        frames=(image,),
        source_format=image.format or "",
        icc_profile=info.get("icc_profile") or None,
        exif=exif.raw if exif is not None else None,
        xmp=_as_bytes(info.get("xmp")),
        orientation=orientation,
        source_size=progress.declared_size,
        notes=notes,
        options=EncodeOptions(strip=STRIP_POLICIES[params.metadata]),
    )


def _band_strip(bands: RowBands, template: Picture, top: int, bottom: int) -> PictureStrip:
    """Rows ``[top, bottom)`` of the picture being decoded, copied, as a strip of ``template``."""
    rows = bands.copy(top, bottom)
    rows.info = pixel_info(rows.info)
    return PictureStrip(replace(template, frames=(rows,)), top, template.size)


def decode_bytes(
    data: bytes | Iterable[bytes],
    params: DecodeParams | None = None,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> Picture:
    """Decode a whole image given as bytes (cut into ``chunk_size`` chunks) or as chunks."""
    if isinstance(data, bytes | bytearray | memoryview):
        whole = bytes(data)
        chunks: Iterable[bytes] = (
            whole[i : i + chunk_size] for i in range(0, len(whole), chunk_size)
        )
    else:
        chunks = data
    return decode_stream(ChunkReader.over(chunks), params or DecodeParams())


def decode_overlap(metrics: StageMetrics, input_done_at: float | None = None) -> float | None:
    """Fraction of the decode's ``load()`` time already spent when the input was complete.

    ``input_done_at`` defaults to when the decode stage received its last chunk. Near 1.0, the
    decoder kept pace with the download; 0.0, it started only after the download ended.
    """
    start = metrics.extra.get("decode_load_started_at")
    end = metrics.extra.get("decode_load_finished_at")
    done = input_done_at if input_done_at is not None else metrics.last_input_at
    if start is None or end is None or done is None:
        return None
    if end <= start:
        return 1.0
    return float(min(1.0, max(0.0, (done - start) / (end - start))))


async def decode(ctx: StepContext) -> None:
    """The decode stage: read chunks through a blocking reader in a worker thread."""
    params: DecodeParams = ctx.params
    source = ctx.stage.input
    gate = CpuGate()
    use_heap_blocks()

    def arrived() -> bytes | None:  # anyio.WouldBlock when no chunk is there yet
        try:
            return _chunk(source.receive_nowait())
        except StopAsyncIteration:
            return None

    async def next_chunk() -> bytes | None:
        try:
            return _chunk(await anext(source))
        except StopAsyncIteration:
            return None

    def fetch() -> bytes | None:
        # A chunk already there is taken with the CPU token kept: lending it back for every
        # chunk made the decode, the critical path, queue behind resize jobs for a new token.
        try:
            return anyio.from_thread.run_sync(arrived)
        except anyio.WouldBlock:
            return gate.run_waiting(next_chunk)

    def send_bands(feed: BandFeed) -> None:  # its own thread, without a CPU token: it copies
        for strip in feed:  # finished rows (the copy releases the GIL) and waits on compress
            anyio.from_thread.run(ctx.write, strip)

    reader = ChunkReader(fetch)
    progress = DecodeProgress()
    feed = BandFeed() if params.strips else None
    try:
        async with anyio.create_task_group() as group:
            if feed is not None:
                group.start_soon(functools.partial(anyio.to_thread.run_sync, send_bands, feed))
            async with gate:
                picture = await anyio.to_thread.run_sync(
                    decode_stream, reader, params, progress, feed
                )
    finally:
        ctx.metrics.extra.update(progress.as_extra(reader))
    for note in picture.notes:
        ctx.log.warning("decode: %s", note)
    if picture.notes:
        ctx.metrics.extra.setdefault("warnings", []).extend(picture.notes)
    if progress.bands:
        return  # every row went out while the picture decoded
    if params.strips:
        await write_strips(ctx, picture, whole=params.one_strip)
    else:
        await ctx.write(picture)


def _chunk(frame: object) -> bytes:
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise TypeError(f"decode expects byte chunks, got {type(frame).__name__}")
    return bytes(frame)


def _check_pixels(size: tuple[int, int], limit: int) -> None:
    width, height = size
    if width * height > limit:
        raise ImageTooLarge(
            f"the image declares {width}×{height} = {width * height / 1e6:.1f} megapixels, "
            f"over the limit of {limit / 1e6:.1f} (image.max_pixels); resize it before upload "
            "or raise the limit"
        )


def _checked_exif(raw: object) -> tuple[ExifData | None, tuple[str, ...]]:
    if not isinstance(raw, bytes) or not raw:
        return None, ()
    try:
        return parse_exif(raw), ()
    except CorruptExif as exc:
        return None, (f"corrupt EXIF dropped ({exc}); orientation taken as upright",)


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, str):
        return value.encode() or None
    if isinstance(value, bytes):
        return value or None
    return None


DECODE = StepDefinition(
    name="decode",
    function=decode,
    params_model=DecodeParams,
    consumes="bytes",
    produces="picture",
    description="decode an image once, while it downloads, shrinking it on load when possible",
)
