"""Parameter types shared by the image steps: colours and resampling filters."""

from __future__ import annotations

from typing import Annotated, Literal

from PIL import Image, ImageColor
from pydantic import BeforeValidator

from steps.image.picture import RGB

ResampleName = Literal["lanczos", "bicubic", "bilinear", "hamming", "box", "nearest"]

RESAMPLING: dict[str, Image.Resampling] = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}


def parse_color(value: object) -> RGB:
    """An (r, g, b) tuple from a CSS colour (``"#1e90ff"``, ``"white"``) or a 3-item list."""
    if isinstance(value, str):
        try:
            rgb = ImageColor.getrgb(value.strip())
        except ValueError:
            raise ValueError(
                f"unknown colour {value!r}; use a name like 'white' or '#rrggbb'"
            ) from None
        return rgb[0], rgb[1], rgb[2]
    if isinstance(value, list | tuple) and len(value) == 3:
        channels = tuple(value)
        if all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in channels):
            return channels[0], channels[1], channels[2]
    raise ValueError("a colour is a name, '#rrggbb', or [red, green, blue] with values 0-255")


#: A colour parameter, stored as (r, g, b).
Color = Annotated[RGB, BeforeValidator(parse_color)]
