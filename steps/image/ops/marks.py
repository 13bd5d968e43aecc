"""Parameters of ``watermark``: one or more text or image marks.

Both forms are accepted::

    - watermark: {text: "© Example", position: bottom-right, opacity: 0.5}
    - watermark:
        marks:
          - {text: "© Example", size: 0.04}
          - {image: "s3://assets/logo.png", width: 0.15, position: top-left}

Sizes and margins are fractions of the picture's width, so a mark looks the same on every size.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from steps.image.params import Color

Anchor = Literal[
    "top-left",
    "top",
    "top-right",
    "left",
    "center",
    "right",
    "bottom-left",
    "bottom",
    "bottom-right",
]
Repeat = Literal["none", "tile", "diagonal"]
#: Rotation of a diagonal repeat when none is given: rising at 30° (clockwise angles).
DIAGONAL_ANGLE = -30.0


class _Mark(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    opacity: float = Field(default=0.5, ge=0.0, le=1.0, description="0 invisible … 1 opaque")
    position: Anchor = Field(default="bottom-right", description="one of 9 anchors")
    margin: float = Field(default=0.02, ge=0.0, le=0.5, description="gap to the edges (× width)")
    repeat: Repeat = Field(default="none", description="none | tile | diagonal")
    spacing: float = Field(default=0.1, ge=0.0, le=2.0, description="gap between repeats (× width)")
    angle: float | None = Field(
        default=None, ge=-360, le=360, description="degrees clockwise; diagonal defaults to -30"
    )

    @property
    def rotation(self) -> float:
        """The clockwise rotation to draw the mark with."""
        if self.angle is not None:
            return self.angle
        return DIAGONAL_ANGLE if self.repeat == "diagonal" else 0.0


class TextMark(_Mark):
    """A line (or lines) of text."""

    text: str = Field(min_length=1, max_length=500)
    font: str | None = Field(
        default=None, description="TrueType/OpenType font: path or s3:// URL; default: bundled"
    )
    size: float = Field(default=0.05, gt=0.0, le=1.0, description="text height (× width)")
    color: Color = Field(default=(255, 255, 255), description="text colour")
    stroke: float = Field(default=0.0, ge=0.0, le=0.25, description="outline width (× size)")
    stroke_color: Color = Field(default=(0, 0, 0), description="outline colour")


class ImageMark(_Mark):
    """A logo read once per workflow from ``s3://bucket/key`` or a local path."""

    image: str = Field(min_length=1, description="s3://bucket/key or a local path")
    width: float = Field(default=0.2, gt=0.0, le=1.0, description="logo width (× width)")


def _mark_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        has_text, has_image = "text" in value, "image" in value
        if has_text != has_image:
            return "text" if has_text else "image"
        return None
    if isinstance(value, TextMark):
        return "text"
    if isinstance(value, ImageMark):
        return "image"
    return None


Mark = Annotated[
    Annotated[TextMark, Tag("text")] | Annotated[ImageMark, Tag("image")],
    Discriminator(
        _mark_kind,
        custom_error_type="invalid_mark",
        custom_error_message="a mark needs exactly one of 'text' or 'image'",
    ),
]


class WatermarkParams(BaseModel):
    """Parameters of ``watermark``: ``marks``, or the fields of a single mark."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    marks: tuple[Mark, ...] = Field(max_length=16)

    @model_validator(mode="before")
    @classmethod
    def _single_mark(cls, data: Any) -> Any:
        if isinstance(data, dict) and "marks" not in data and data:
            return {"marks": [data]}
        return data

    @field_validator("marks")
    @classmethod
    def _not_empty(
        cls, value: tuple[TextMark | ImageMark, ...]
    ) -> tuple[TextMark | ImageMark, ...]:
        if not value:
            raise ValueError("give at least one mark: text or image")
        return value
