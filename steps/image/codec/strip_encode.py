"""encode for strips: baseline JPEG written as the strips come, anything else joined first.

The planner puts this stage after a strip-aware step. A still picture leaving as baseline JPEG
(no ``progressive``, no ``optimize``) goes through a :class:`JpegStripWriter`: each strip is
converted for JPEG and encoded in a worker thread, and its bytes are sent at once, so the upload
starts while the steps before are still on later strips. Other formats, and animations, are
joined into one picture and encoded by :func:`write_encoded` like a whole picture.
"""

from __future__ import annotations

from steps.api import StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.errors import StripOrderError
from steps.image.codec.encode import (
    EncodeResult,
    record_result,
    save_arguments,
    target_format,
    write_encoded,
)
from steps.image.codec.jpeg_strips import JpegStripWriter
from steps.image.codec.modes import frames_for_format
from steps.image.codec.streams import CHUNK_SIZE
from steps.image.strips import PictureStrip, StripAssembler, expect_strip


def streams_as_jpeg(strip: PictureStrip) -> bool:
    """True when the picture of ``strip`` is written as baseline JPEG, strip by strip."""
    options = strip.picture.options
    return (
        target_format(strip.picture) == "JPEG"
        and not options.progressive
        and not options.optimize
        and len(strip.frames) == 1
    )


class _JpegStrips:
    """One picture written as baseline JPEG strip by strip."""

    def __init__(self, strip: PictureStrip) -> None:
        frames, icc, conversion_notes = frames_for_format(strip.picture, "JPEG")
        args, notes = save_arguments(strip.picture, "JPEG", frames, icc)
        self.notes = conversion_notes + notes
        self.writer = JpegStripWriter(strip.size, args)
        self.chunks = 0
        self._next_row = 0

    def add(self, strip: PictureStrip) -> bytes:
        """The JPEG bytes ``strip`` completes (converted for JPEG in the calling thread)."""
        if strip.top != self._next_row:
            raise StripOrderError(
                f"strip at row {strip.top} does not continue the picture at row {self._next_row}"
            )
        self._next_row = strip.bottom
        frames, _, _ = frames_for_format(strip.picture, "JPEG")
        return self.writer.add(frames[0])

    def result(self) -> EncodeResult:
        """What was written, once finished."""
        return EncodeResult("JPEG", self.writer.bytes_written, self.chunks, 1, self.notes)


async def encode_strips(ctx: StepContext) -> None:
    """The strip encode stage."""
    assembler = StripAssembler()
    jpeg: _JpegStrips | None = None
    async for frame in ctx.input:
        strip = expect_strip(frame, ctx.name)
        if strip.is_first and not assembler.started and (jpeg is None or jpeg.writer.finished):
            jpeg = await run_cpu(_JpegStrips, strip) if streams_as_jpeg(strip) else None
        if jpeg is None:
            whole = await run_cpu(assembler.add, strip)
            if whole is not None:
                await write_encoded(ctx, whole)
            continue
        data = await run_cpu(jpeg.add, strip)
        for start in range(0, len(data), CHUNK_SIZE):
            await ctx.write(data[start : start + CHUNK_SIZE])
            jpeg.chunks += 1
        if jpeg.writer.finished:
            record_result(ctx, jpeg.result())
    assembler.check_finished()
    if jpeg is not None and not jpeg.writer.finished:
        raise StripOrderError("the strips ended before the last row of the picture")


STRIP_ENCODE = StepDefinition(
    name="encode",
    function=encode_strips,
    consumes="strips",
    produces="bytes",
    description="encode strips: baseline JPEG as they come, other formats once joined",
)
