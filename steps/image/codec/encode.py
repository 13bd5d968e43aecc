"""encode: one :class:`Picture` in, bytes out, sent on while Pillow is still encoding.

``encode_picture`` is pure Pillow: pending orientation applied, modes converted for the output
format, metadata chosen by the strip policy (orientation tag removed from kept EXIF), then
``Image.save`` into a :class:`ChunkWriter`. The ``encode`` step runs it in a worker thread whose
writer forwards each 64 KiB frame with ``gate.run_waiting(ctx.write, ...)`` — the upload
overlaps encoding, and a slow upload slows the encoder (backpressure).

Baseline JPEG and PNG stream as they encode. Progressive or optimized JPEG, WebP and AVIF are
produced whole by their libraries at the end of ``save`` and then sent in 64 KiB frames. TIFF
needs a seekable file and is encoded into memory first.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, cast

import anyio.from_thread
import anyio.to_thread
from PIL import Image, PngImagePlugin

from steps.api import StepContext, StepDefinition
from steps.cpu import CpuGate
from steps.errors import EncodeFailed
from steps.image.codec.exif import EXIF_HEADER, ORIENTATION_TAG, remove_gps, remove_tag
from steps.image.codec.formats import WRITABLE_FORMATS
from steps.image.codec.metadata import xmp_without_gps
from steps.image.codec.modes import frames_for_format
from steps.image.codec.streams import ChunkWriter
from steps.image.picture import Picture, expect_picture, upright

#: Quality used when no step chose one (Pillow's own default elsewhere).
DEFAULT_QUALITY = {"JPEG": 85, "WEBP": 80}
#: Largest EXIF a JPEG APP1 segment holds.
JPEG_MAX_EXIF = 65_527
_ANIMATABLE = frozenset({"GIF", "PNG", "WEBP", "AVIF"})
_ICC_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "AVIF", "TIFF"})
_EXIF_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "AVIF", "TIFF"})
_XMP_FORMATS = frozenset({"JPEG", "WEBP", "AVIF"})


@dataclass(frozen=True)
class EncodeResult:
    """What an encode wrote."""

    format: str
    bytes_written: int
    chunks: int
    frames: int
    notes: tuple[str, ...] = ()


def target_format(picture: Picture) -> str:
    """The Pillow format the picture will be written in."""
    name = picture.options.format or picture.source_format
    name = "JPEG" if name == "MPO" else name
    return name if name in WRITABLE_FORMATS else "PNG"


def save_arguments(
    picture: Picture, pillow_format: str, frames: list[Image.Image], icc: bytes | None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Keyword arguments for ``Image.save`` and notes on metadata that had to be dropped."""
    options = picture.options
    args: dict[str, Any] = {"format": pillow_format}
    notes: tuple[str, ...] = ()
    quality = options.quality or DEFAULT_QUALITY.get(pillow_format)
    if pillow_format == "JPEG":
        args.update(quality=quality, optimize=options.optimize, progressive=options.progressive)
    elif pillow_format == "WEBP":
        args.update(quality=quality, method=6 if options.optimize else 4)
    elif pillow_format == "AVIF" and quality is not None:
        args.update(quality=quality)
    elif pillow_format in ("PNG", "GIF"):
        args.update(optimize=options.optimize)
    if icc is not None and options.strip != "all" and pillow_format in _ICC_FORMATS:
        args["icc_profile"] = icc
    if options.strip in ("none", "gps"):
        exif_raw, xmp = picture.exif, picture.xmp
        if options.strip == "gps":
            exif_raw = remove_gps(exif_raw) if exif_raw is not None else None
            xmp = xmp_without_gps(xmp) if xmp is not None else None
        if exif_raw is not None and pillow_format in _EXIF_FORMATS:
            exif = EXIF_HEADER + remove_tag(exif_raw, ORIENTATION_TAG)
            if pillow_format == "JPEG" and len(exif) > JPEG_MAX_EXIF:
                notes += (f"EXIF of {len(exif)} bytes does not fit in a JPEG; dropped",)
            else:
                args["exif"] = exif
        if xmp is not None:
            if pillow_format in _XMP_FORMATS:
                args["xmp"] = xmp
            elif pillow_format == "PNG":
                info = PngImagePlugin.PngInfo()
                info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
                args["pnginfo"] = info
    if len(frames) > 1 and pillow_format in _ANIMATABLE:
        durations = list(picture.durations) or [100] * len(frames)
        args.update(save_all=True, append_images=frames[1:], duration=durations)
        if picture.loop is not None:
            args["loop"] = picture.loop
        elif pillow_format != "GIF":
            args["loop"] = 1  # the source played once
    elif len(frames) > 1:
        notes += (f"{pillow_format} holds one frame: only the first of {len(frames)} is kept",)
    return args, notes


def encode_picture(picture: Picture, writer: ChunkWriter) -> EncodeResult:
    """Write ``picture`` to ``writer`` and emit its last frame."""
    pillow_format = target_format(picture)
    picture = upright(picture)
    frames, icc, conversion_notes = frames_for_format(picture, pillow_format)
    args, notes = save_arguments(picture, pillow_format, frames, icc)
    notes = conversion_notes + notes
    with _encoder_errors(pillow_format):
        if pillow_format == "TIFF":
            buffer = io.BytesIO()
            frames[0].save(buffer, **args)
            writer.write(buffer.getbuffer())
        else:
            frames[0].save(cast(IO[bytes], writer), **args)
    writer.finish()
    written = len(frames) if args.get("save_all") else 1
    return EncodeResult(
        format=pillow_format,
        bytes_written=writer.bytes_written,
        chunks=writer.chunks_emitted,
        frames=written,
        notes=notes,
    )


def encode_bytes(picture: Picture) -> bytes:
    """The encoded picture as one bytes object (tests, local files)."""
    chunks: list[bytes] = []
    encode_picture(picture, ChunkWriter(chunks.append))
    return b"".join(chunks)


async def encode(ctx: StepContext) -> None:
    """The encode stage: save in a worker thread, forwarding each output frame as written."""
    async for frame in ctx.input:
        await write_encoded(ctx, expect_picture(frame, ctx.name))


async def write_encoded(ctx: StepContext, picture: Picture) -> None:
    """Encode ``picture`` in a worker thread, writing each output frame to ``ctx`` as it fills."""
    gate = CpuGate()

    def emit(chunk: bytes) -> None:
        gate.run_waiting(ctx.write, chunk)

    async with gate:
        result = await anyio.to_thread.run_sync(encode_picture, picture, ChunkWriter(emit))
    record_result(ctx, result)


def record_result(ctx: StepContext, result: EncodeResult) -> None:
    """Put what an encode wrote in the stage metrics, and log its notes."""
    ctx.metrics.extra.update(
        encode_format=result.format,
        encode_bytes=result.bytes_written,
        encode_frames=result.frames,
    )
    for note in result.notes:
        ctx.log.warning("encode: %s", note)


@contextmanager
def _encoder_errors(pillow_format: str) -> Iterator[None]:
    try:
        yield
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EncodeFailed(f"cannot write the picture as {pillow_format}: {exc}") from exc


ENCODE = StepDefinition(
    name="encode",
    function=encode,
    consumes="picture",
    produces="bytes",
    description="encode a picture once, streaming the output as it is written",
)
