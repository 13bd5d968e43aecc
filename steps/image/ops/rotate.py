"""rotate: turn the (upright) picture clockwise by ``angle`` degrees.

Multiples of 90° are exact transposes of the decoded pixels — no resampling, every pixel kept;
the picture is then encoded again like any other (a JPEG is re-compressed: Pillow offers no
lossless DCT-block rotation such as ``jpegtran``'s). Other angles resample
(bicubic by default); ``expand`` grows the canvas to hold the whole image and ``fill`` colours
the uncovered corners (``transparent`` adds an alpha band).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from steps.api import StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.image.codec.modes import editable
from steps.image.params import Color
from steps.image.picture import RGB, Picture, expect_picture, upright

#: Clockwise quarter turns → the exact transpose.
QUARTER_TURNS = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}
_FILTERS = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}


class RotateParams(BaseModel):
    """Parameters of ``rotate``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    angle: float = Field(description="degrees clockwise; multiples of 90 turn pixels exactly")
    expand: bool = Field(default=True, description="grow the canvas to fit the rotated image")
    fill: Color | Literal["transparent"] = Field(
        default=(255, 255, 255), description="colour of uncovered corners, or transparent"
    )
    resample: Literal["bicubic", "bilinear", "nearest"] = "bicubic"

    @field_validator("angle")
    @classmethod
    def _normalise(cls, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("angle must be a finite number of degrees")
        return value % 360


def rotate_frame(frame: Image.Image, params: RotateParams) -> Image.Image:
    """One frame rotated clockwise by ``params.angle``."""
    turn = QUARTER_TURNS.get(int(params.angle)) if params.angle.is_integer() else None
    if params.angle == 0:
        return frame
    if turn is not None:
        return frame.transpose(turn)
    image = editable(frame)
    if params.fill == "transparent" and image.mode in ("L", "RGB"):
        image = image.convert("LA" if image.mode == "L" else "RGBA")
    return image.rotate(
        -params.angle,
        resample=_FILTERS[params.resample],
        expand=params.expand,
        fillcolor=_fill_for(image.mode, params.fill),
    )


def rotate_picture(picture: Picture, params: RotateParams) -> Picture:
    """The picture set upright, then rotated."""
    picture = upright(picture)
    return replace(picture, frames=tuple(rotate_frame(f, params) for f in picture.frames))


async def rotate(ctx: StepContext) -> None:
    """The rotate step."""
    params: RotateParams = ctx.params
    async for frame in ctx.input:
        picture = expect_picture(frame, ctx.name)
        await ctx.write(await run_cpu(rotate_picture, picture, params))


def _fill_for(mode: str, fill: RGB | Literal["transparent"]) -> int | tuple[int, ...]:
    if fill == "transparent":
        return (0, 0) if mode == "LA" else (0, 0, 0, 0)
    red, green, blue = fill
    if mode in ("L", "LA"):
        grey = round(0.299 * red + 0.587 * green + 0.114 * blue)
        return grey if mode == "L" else (grey, 255)
    return (red, green, blue, 255) if mode == "RGBA" else (red, green, blue)


ROTATE = StepDefinition(
    name="rotate",
    function=rotate,
    params_model=RotateParams,
    consumes="picture",
    produces="picture",
    description="rotate clockwise; quarter turns transpose pixels exactly, then re-encode",
)
