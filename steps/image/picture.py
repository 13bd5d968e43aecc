"""The ``Picture`` frame: decoded pixels plus everything encoding needs.

A picture travels between image steps instead of bytes. Its frames are owned by whoever holds
the picture: a step may modify them in place (the watermark composites only the region a mark
covers) and hands the picture on; nothing else keeps a reference — except after a fan-out tee,
which hands the same picture to every branch with ``shared=True``: its frames are then
read-only, and a step that draws into them copies them first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from PIL import Image

#: What to strip when encoding: ``none``; ``gps`` (the location in EXIF and XMP); ``exif``
#: (EXIF and XMP, keep the ICC profile); ``all`` (also the ICC profile, after converting the
#: pixels to sRGB).
StripPolicy = Literal["none", "gps", "exif", "all"]
RGB = tuple[int, int, int]

#: EXIF orientation → the transpose that makes the pixels upright (as ``ImageOps.exif_transpose``).
ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class EncodeOptions:
    """How the picture is to be written; set by steps such as ``compress``."""

    #: Pillow format name (``JPEG``, ``PNG``...); None keeps the source format.
    format: str | None = None
    #: Lossy quality 1-100; None uses the format's default.
    quality: int | None = None
    progressive: bool = False
    optimize: bool = False
    strip: StripPolicy = "exif"
    #: Colour that transparent pixels are flattened onto for formats without alpha.
    background: RGB = (255, 255, 255)


@dataclass(frozen=True)
class Picture:
    """A decoded image (all frames if animated) and what encoding it back needs."""

    frames: tuple[Image.Image, ...]
    source_format: str
    #: Display time of each frame in milliseconds (empty for a still image).
    durations: tuple[int, ...] = ()
    #: Animation loop count as the source gave it (0 = forever), None if it gave none.
    loop: int | None = None
    icc_profile: bytes | None = None
    #: EXIF as a TIFF structure (no ``Exif\\0\\0`` prefix), already checked; None if absent.
    exif: bytes | None = None
    xmp: bytes | None = None
    #: EXIF orientation not yet applied to the pixels; 1 means upright.
    orientation: int = 1
    options: EncodeOptions = field(default_factory=EncodeOptions)
    #: Size the source declared, before any shrink-on-load.
    source_size: tuple[int, int] | None = None
    #: Things a user may want to know (dropped corrupt metadata...), for logs and metrics.
    notes: tuple[str, ...] = ()
    #: True when other branches of a fan-out hold the same frames: copy before drawing.
    shared: bool = False

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a picture needs at least one frame")

    @property
    def image(self) -> Image.Image:
        """The first (or only) frame."""
        return self.frames[0]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames as they are now (before pending orientation)."""
        return self.frames[0].size

    @property
    def is_animated(self) -> bool:
        """True when the picture holds more than one frame."""
        return len(self.frames) > 1

    @property
    def nbytes(self) -> int:
        """Memory held by the pixels: width × height × bands, summed over frames."""
        return sum(f.width * f.height * len(f.getbands()) for f in self.frames)


def upright(picture: Picture) -> Picture:
    """The picture with its pending EXIF orientation applied to every frame."""
    method = ORIENTATION_TRANSPOSE.get(picture.orientation)
    if method is None:
        return picture if picture.orientation == 1 else replace(picture, orientation=1)
    frames = tuple(frame.transpose(method) for frame in picture.frames)
    return replace(picture, frames=frames, orientation=1)


def swaps_axes(orientation: int) -> bool:
    """True when applying ``orientation`` exchanges width and height."""
    return orientation in (5, 6, 7, 8)


def expect_picture(frame: object, step: str) -> Picture:
    """``frame`` as a Picture; TypeError naming ``step`` when a stage sent something else."""
    if not isinstance(frame, Picture):
        raise TypeError(f"step {step!r} expects pictures, got {type(frame).__name__}")
    return frame
