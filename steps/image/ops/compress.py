"""compress: fit inside a box (never upscaling), set upright, choose format and quality.

Resizing happens before the EXIF orientation is applied (fewer pixels to transpose), with the
box swapped for orientations that exchange width and height. Output format, quality and the
metadata policy are recorded in the picture's encode options; the encode stage applies them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from PIL import Image, features
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from steps.api import SizeHint, StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.image.codec.formats import OUTPUT_FORMATS
from steps.image.codec.modes import resizable
from steps.image.params import RESAMPLING, Color, ResampleName
from steps.image.picture import EncodeOptions, Picture, StripPolicy, expect_picture, swaps_axes
from steps.image.picture import upright as set_upright

#: Stands for "no limit" on one side of a size hint.
UNBOUNDED = 2**31 - 1
#: Pillow's ``reducing_gap``: shrink by an integer factor first when the ratio is large.
REDUCING_GAP = 3.0

CompressFormat = Literal["keep", "jpeg", "png", "webp", "avif", "gif"]
_FORMAT_ALIASES = {"jpg": "jpeg"}


class CompressParams(BaseModel):
    """Parameters of ``compress``; every field is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_width: PositiveInt | None = Field(default=None, description="fit inside this width")
    max_height: PositiveInt | None = Field(default=None, description="fit inside this height")
    format: CompressFormat = Field(default="keep", description="output format, or keep")
    quality: int | None = Field(default=None, ge=1, le=100, description="lossy quality 1-100")
    progressive: bool = Field(default=False, description="progressive JPEG (written at the end)")
    optimize: bool = Field(default=False, description="smaller output, more CPU")
    strip_metadata: StripPolicy | None = Field(
        default=None,
        description="none | gps | exif (EXIF and XMP, keeping the ICC profile) | all; "
        "true = exif; default: the workflow's image.metadata",
    )
    background: Color = Field(default=(255, 255, 255), description="behind transparency in JPEG")
    resample: ResampleName = Field(default="lanczos", description="resampling filter")

    @field_validator("format", mode="before")
    @classmethod
    def _format_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            value = _FORMAT_ALIASES.get(lowered, lowered)
        if value == "avif" and not features.check("avif"):
            raise ValueError("avif is not available: Pillow was built without libavif")
        return value

    @field_validator("strip_metadata", mode="before")
    @classmethod
    def _strip_bool(cls, value: Any) -> Any:
        if value is True:
            return "exif"
        if value is False:
            return "none"
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CompressParams:
        if self.quality is not None and self.format in ("png", "gif"):
            raise ValueError(
                f"quality applies to jpeg, webp and avif, not to {self.format} (lossless)"
            )
        if self.progressive and self.format not in ("jpeg", "keep"):
            raise ValueError("progressive applies to jpeg only")
        return self


def fit_within(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size with ``size``'s aspect ratio inside ``box``; never larger than ``size``."""
    width, height = size
    scale = min(box[0] / width, box[1] / height)
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_frame(frame: Image.Image, size: tuple[int, int], resample: str) -> Image.Image:
    """``frame`` resized to ``size`` with the named filter, in a mode that filters properly."""
    source = resizable(frame)
    gap = None if source.mode.startswith("I;16") else REDUCING_GAP
    return source.resize(size, RESAMPLING[resample], reducing_gap=gap)


def compress_picture(picture: Picture, params: CompressParams) -> Picture:
    """The picture fitted in the box, upright, with the requested encode options."""
    box = (params.max_width or UNBOUNDED, params.max_height or UNBOUNDED)
    if swaps_axes(picture.orientation):
        box = (box[1], box[0])
    target = fit_within(picture.size, box)
    if target != picture.size:
        frames = tuple(resize_frame(frame, target, params.resample) for frame in picture.frames)
        picture = replace(picture, frames=frames, shared=False)  # new frames: this branch's
    picture = set_upright(picture)
    chosen = OUTPUT_FORMATS.get(params.format)
    options = EncodeOptions(
        format=chosen or picture.options.format,
        quality=params.quality,
        progressive=params.progressive,
        optimize=params.optimize,
        strip=params.strip_metadata or picture.options.strip,
        background=params.background,
    )
    return replace(picture, options=options)


def compress_size_hint(params: CompressParams) -> SizeHint | None:
    """The box compress fits pictures in, for shrink-on-load; None if unbounded."""
    if params.max_width is None and params.max_height is None:
        return None
    return params.max_width or UNBOUNDED, params.max_height or UNBOUNDED


def compress_output_format(params: CompressParams) -> str | None:
    """The output format compress fixes (``jpeg``...), or None when it keeps the source's."""
    return None if params.format == "keep" else params.format


async def compress(ctx: StepContext) -> None:
    """The compress step: one picture in, one out, the work in a worker thread."""
    params: CompressParams = ctx.params
    async for frame in ctx.input:
        picture = expect_picture(frame, ctx.name)
        await ctx.write(await run_cpu(compress_picture, picture, params))


COMPRESS = StepDefinition(
    name="compress",
    function=compress,
    params_model=CompressParams,
    consumes="picture",
    produces="picture",
    size_hint=compress_size_hint,
    output_format=compress_output_format,
    description="fit inside max_width × max_height, set upright, choose format and quality",
)
