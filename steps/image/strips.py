"""Pictures in horizontal strips: the frame strip-aware steps exchange, and split/join.

A :class:`PictureStrip` is a band of rows of one picture: ``picture`` holds the strip's rows of
every frame together with the whole picture's metadata (format, ICC, EXIF, encode options...),
``top`` is the row the strip starts at and ``size`` the whole picture's (width, height). Strips
of a picture travel in order, top to bottom, each row exactly once; they are always upright
(EXIF orientation is applied before a picture is split). A step that consumes strips
(``consumes="strips"``) works on one band at a time, so the next step starts on the first band
while the rest is still being computed.

:func:`split_picture` cuts a picture into strips of about :data:`STRIP_BYTES`; a
:class:`StripAssembler` joins them back into one picture for steps that need it whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from steps.api import StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.errors import StripOrderError
from steps.image.picture import Picture, expect_picture, upright

#: Target size of one strip (all frames), in bytes of pixels.
STRIP_BYTES = 1024 * 1024
#: Strip heights are multiples of this many rows (a JPEG MCU row is 8 or 16 rows).
STRIP_ALIGN = 16
#: Modes Pillow stores in fewer than 4 bytes per pixel; every other one takes 4 (RGB too).
_NARROW_MODES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}


@dataclass(frozen=True)
class PictureStrip:
    """Rows ``top`` to ``top + height`` of a picture of ``size``, with its metadata."""

    #: The strip's rows of every frame, and the whole picture's metadata.
    picture: Picture
    #: Row of the whole picture the strip starts at.
    top: int
    #: (width, height) of the whole picture.
    size: tuple[int, int]

    def __post_init__(self) -> None:
        width, height = self.picture.size
        if width != self.size[0] or self.top < 0 or self.top + height > self.size[1]:
            raise StripOrderError(
                f"a strip of {width}×{height} at row {self.top} does not fit a picture of "
                f"{self.size[0]}×{self.size[1]}"
            )

    @property
    def frames(self) -> tuple[Image.Image, ...]:
        """The strip's rows of every frame (one image per frame)."""
        return self.picture.frames

    @property
    def height(self) -> int:
        """Rows in the strip."""
        return self.picture.size[1]

    @property
    def bottom(self) -> int:
        """Row of the whole picture just below the strip."""
        return self.top + self.height

    @property
    def is_first(self) -> bool:
        """True for the strip a picture starts with."""
        return self.top == 0

    @property
    def is_last(self) -> bool:
        """True for the strip that ends the picture."""
        return self.bottom == self.size[1]

    @property
    def nbytes(self) -> int:
        """Memory held by the strip's pixels."""
        return self.picture.nbytes

    def with_frames(self, frames: tuple[Image.Image, ...], size: tuple[int, int]) -> PictureStrip:
        """A strip at the same ``top`` holding ``frames``, of a picture now of ``size``."""
        return PictureStrip(replace(self.picture, frames=frames), self.top, size)


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow holds per pixel of an image in ``mode`` (4 for RGB)."""
    return _NARROW_MODES.get(mode, 4)


def strip_rows(width: int, pixel: int, frames: int = 1, target: int | None = None) -> int:
    """Rows per strip so that a strip of ``pixel``-byte pixels holds about ``target`` bytes
    (default :data:`STRIP_BYTES`; a multiple of 16 rows)."""
    row_bytes = max(1, width * pixel * frames)
    rows = (target or STRIP_BYTES) // row_bytes
    return max(STRIP_ALIGN, rows // STRIP_ALIGN * STRIP_ALIGN)


def row_spans(height: int, rows: int) -> list[tuple[int, int]]:
    """``[top, bottom)`` of each strip of ``rows`` rows covering ``height`` rows."""
    return [(top, min(top + rows, height)) for top in range(0, height, rows)]


def split_picture(picture: Picture, rows: int | None = None) -> Iterator[PictureStrip]:
    """The picture, set upright, as strips of ``rows`` rows (default: about STRIP_BYTES)."""
    picture = upright(picture)
    width, height = picture.size
    first = picture.frames[0]
    rows = rows or strip_rows(width, pixel_bytes(first.mode), len(picture.frames))
    for top, bottom in row_spans(height, rows):
        yield crop_strip(picture, top, bottom)


def crop_strip(picture: Picture, top: int, bottom: int) -> PictureStrip:
    """Rows ``[top, bottom)`` of an upright picture as a strip (a copy of those rows).

    The whole picture becomes one strip without a copy (still ``shared`` if it was).
    """
    if top == 0 and bottom == picture.size[1]:
        return PictureStrip(picture, 0, picture.size)
    frames = tuple(frame.crop((0, top, frame.width, bottom)) for frame in picture.frames)
    return PictureStrip(replace(picture, frames=frames, shared=False), top, picture.size)


class StripAssembler:
    """Joins the strips of one picture, in order, into the whole picture.

    :meth:`add` raises :class:`StripOrderError` when a strip does not continue the picture
    (wrong row, width or frame count, or a new picture before the last one ended).
    """

    def __init__(self) -> None:
        self._canvas: list[Image.Image] = []
        self._first: PictureStrip | None = None
        self._next_row = 0

    @property
    def started(self) -> bool:
        """True while a picture is partly assembled."""
        return self._first is not None

    def add(self, strip: PictureStrip) -> Picture | None:
        """Paste ``strip``; the whole picture once its last strip arrived, else None."""
        if self._first is None:
            if not strip.is_first:
                raise StripOrderError(
                    f"a picture's first strip must start at row 0, not at row {strip.top}"
                )
            if strip.is_last:
                return strip.picture
            self._first = strip
            self._canvas = [_blank_like(frame, strip.size) for frame in strip.frames]
        elif (
            strip.top != self._next_row
            or strip.size != self._first.size
            or len(strip.frames) != len(self._canvas)
        ):
            raise StripOrderError(
                f"strip at row {strip.top} of a {strip.size[0]}×{strip.size[1]} picture does not "
                f"continue the picture at row {self._next_row} of "
                f"{self._first.size[0]}×{self._first.size[1]}"
            )
        for canvas, frame in zip(self._canvas, strip.frames, strict=True):
            if frame.mode != canvas.mode:
                frame = frame.convert(canvas.mode)
            canvas.paste(frame, (0, strip.top))
        self._next_row = strip.bottom
        if not strip.is_last:
            return None
        whole = replace(strip.picture, frames=tuple(self._canvas))
        self._first, self._canvas, self._next_row = None, [], 0
        return whole

    def check_finished(self) -> None:
        """Raise StripOrderError if the input ended in the middle of a picture."""
        if self._first is not None:
            raise StripOrderError(
                f"the strips ended at row {self._next_row} of a picture "
                f"{self._first.size[1]} rows high"
            )


def _blank_like(frame: Image.Image, size: tuple[int, int]) -> Image.Image:
    canvas = Image.new(frame.mode, size)
    if frame.mode in ("P", "PA") and frame.palette is not None:
        canvas.putpalette(frame.palette)
    canvas.info = dict(frame.info)
    return canvas


def expect_strip(frame: object, step: str) -> PictureStrip:
    """``frame`` as a PictureStrip; TypeError naming ``step`` when a stage sent something else."""
    if not isinstance(frame, PictureStrip):
        raise TypeError(f"step {step!r} expects picture strips, got {type(frame).__name__}")
    return frame


async def write_strips(ctx: StepContext, picture: Picture, *, whole: bool = False) -> None:
    """Send ``picture``, set upright, as strips; each band is cut in a worker thread.

    ``whole`` sends it as one strip, for a step that reads windows of rows itself (compress):
    cutting bands would copy every row while the decoded picture is still held.
    """
    if picture.orientation != 1:  # an upright picture needs no trip to a worker thread
        picture = await run_cpu(upright, picture)
    width, height = picture.size
    rows = strip_rows(width, pixel_bytes(picture.frames[0].mode), len(picture.frames))
    if whole or rows >= height:  # one strip, no copy: sent at once
        await ctx.write(crop_strip(picture, 0, height))
        return
    for top, bottom in row_spans(height, rows):
        await ctx.write(await run_cpu(crop_strip, picture, top, bottom))


class SplitParams(BaseModel):
    """Parameters of ``split``, set by the planner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    one_strip: bool = Field(
        default=False, description="each picture as one strip, for a step that reads windows"
    )


async def split(ctx: StepContext) -> None:
    """The split stage: each picture in, its strips out."""
    params: SplitParams = ctx.params
    async for frame in ctx.input:
        await write_strips(ctx, expect_picture(frame, ctx.name), whole=params.one_strip)


async def join(ctx: StepContext) -> None:
    """The join stage: the strips of each picture in, the whole picture out."""
    assembler = StripAssembler()
    async for frame in ctx.input:
        whole = await run_cpu(assembler.add, expect_strip(frame, ctx.name))
        if whole is not None:
            await ctx.write(whole)
    assembler.check_finished()


SPLIT = StepDefinition(
    name="split",
    function=split,
    params_model=SplitParams,
    consumes="picture",
    produces="strips",
    description="cut each picture, set upright, into strips (inserted by the planner)",
)
JOIN = StepDefinition(
    name="join",
    function=join,
    consumes="strips",
    produces="picture",
    description="join the strips of each picture into one picture (inserted by the planner)",
)
