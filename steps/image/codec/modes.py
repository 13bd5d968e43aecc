"""Pillow mode conversions: what each operation and each output format can take.

* :func:`resizable` — before resizing: 1-bit becomes L and palettes become RGB(A) (Pillow would
  otherwise resize them with nearest-neighbour); 16-bit grey and CMYK resize as they are.
* :func:`editable` — before drawing: L, LA, RGB or RGBA only; 16-bit grey is scaled to 8 bits.
* :func:`frames_for_format` — before saving: CMYK becomes RGB (through its ICC profile when it has
  one), transparency is flattened onto the background for JPEG, each format gets modes it writes
  (16-bit grey stays 16-bit in PNG and TIFF), and the ICC profile is kept only when it describes
  the pixels written.
"""

from __future__ import annotations

import io
from dataclasses import replace

from PIL import Image, ImageCms

from steps.image.picture import RGB, Picture

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
#: Modes each output format writes as they are; anything else is converted.
_FORMAT_MODES = {
    "JPEG": frozenset({"L", "RGB"}),
    "PNG": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}),
    "WEBP": frozenset({"RGB", "RGBA"}),
    "AVIF": frozenset({"RGB", "RGBA"}),
    "GIF": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "BMP": frozenset({"1", "L", "P", "RGB", "RGBA"}),
    "TIFF": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"}),
}
#: ICC colour space signature (header bytes 16-20) each mode needs.
_ICC_SPACE = {"L": b"GRAY", "LA": b"GRAY", "RGB": b"RGB ", "RGBA": b"RGB ", "P": b"RGB "}


def has_alpha(image: Image.Image) -> bool:
    """True if the image has an alpha band or a transparent colour (palette or key)."""
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def scaled_to_8bit(image: Image.Image) -> Image.Image:
    """A 16-bit (or 32-bit integer) grey image as L, scaled (not clipped) to 0-255."""
    if image.mode == "F":
        return image.convert("L")
    return image.convert("I").point(lambda value: value * (1 / 257)).convert("L")


def resizable(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow resizes with the requested filter."""
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if has_alpha(image) else "RGB")
    if image.mode in ("L", "RGB") and "transparency" in image.info:
        return image.convert("LA" if image.mode == "L" else "RGBA")
    return image


def editable(image: Image.Image) -> Image.Image:
    """The image as L, LA, RGB or RGBA, for drawing and compositing."""
    if image.mode in ("L", "LA", "RGB", "RGBA") and "transparency" not in image.info:
        return image
    if image.mode in _SIXTEEN_BIT or image.mode == "F":
        return scaled_to_8bit(image)
    if image.mode in ("1", "L") and "transparency" not in image.info:
        return image.convert("L")
    if image.mode in ("L", "La", "LA"):
        return image.convert("LA")
    return image.convert("RGBA" if has_alpha(image) else "RGB")


def flatten(image: Image.Image, background: RGB) -> Image.Image:
    """An RGB image: the image composited onto an opaque ``background`` colour."""
    rgba = editable(image).convert("RGBA")
    base = Image.new("RGB", rgba.size, background)
    base.paste(rgba, mask=rgba.getchannel("A"))
    return base


def for_format(image: Image.Image, pillow_format: str, background: RGB) -> Image.Image:
    """The image in a mode ``pillow_format`` writes correctly."""
    if "transparency" in image.info and not _keeps_key(image.mode, pillow_format):
        image = editable(image)  # the transparent colour becomes an alpha band
    if pillow_format == "JPEG":
        return flatten(image, background) if has_alpha(image) else editable(image)
    allowed = _FORMAT_MODES.get(pillow_format, frozenset({"RGB", "RGBA"}))
    if image.mode in allowed:
        return image
    if image.mode in _SIXTEEN_BIT and "I;16" in allowed:
        return image.convert("I;16")
    converted = editable(image)
    if converted.mode in allowed:
        return converted
    return converted.convert("RGBA" if has_alpha(converted) else "RGB")


def _keeps_key(mode: str, pillow_format: str) -> bool:
    """True if ``pillow_format`` can store a transparent colour key for ``mode``."""
    if pillow_format == "PNG":
        return mode in ("1", "L", "P", "RGB", "I;16")
    return pillow_format == "GIF" and mode == "P"


def icc_space(icc: bytes) -> bytes | None:
    """The colour space signature of an ICC profile (``RGB ``, ``GRAY``, ``CMYK``...)."""
    if len(icc) < 128 or icc[36:40] != b"acsp":
        return None
    return icc[16:20]


def cmyk_to_rgb(picture: Picture) -> Picture:
    """The picture with CMYK frames converted to RGB through their ICC profile, if any.

    A CMYK profile is used to convert to sRGB and then dropped; without one the conversion
    is Pillow's naive one (which assumes uncalibrated inks).
    """
    if not any(frame.mode == "CMYK" for frame in picture.frames):
        return picture
    icc = picture.icc_profile
    notes = picture.notes
    frames: list[Image.Image] = []
    for frame in picture.frames:
        if frame.mode != "CMYK":
            frames.append(frame)
            continue
        if icc is not None and icc_space(icc) == b"CMYK":
            try:
                source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
                srgb = ImageCms.createProfile("sRGB")
                converted = ImageCms.profileToProfile(frame, source, srgb, outputMode="RGB")
                assert converted is not None
                frames.append(converted)
                continue
            except (OSError, ValueError, ImageCms.PyCMSError) as exc:
                notes = (*notes, f"CMYK profile unusable ({exc}); converted without it")
        frames.append(frame.convert("RGB"))
    return replace(picture, frames=tuple(frames), icc_profile=None, notes=notes)


def to_srgb(picture: Picture) -> Picture:
    """The picture with RGB frames converted from their ICC profile to sRGB, profile dropped."""
    icc = picture.icc_profile
    if icc is None:
        return picture
    if icc_space(icc) != b"RGB ":
        return replace(picture, icc_profile=None)
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    srgb = ImageCms.createProfile("sRGB")
    frames: list[Image.Image] = []
    for frame in picture.frames:
        rgb = editable(frame)
        if rgb.mode not in ("RGB", "RGBA"):
            frames.append(frame)
            continue
        converted = ImageCms.profileToProfile(rgb, source, srgb, outputMode=rgb.mode)
        assert converted is not None
        frames.append(converted)
    return replace(picture, frames=tuple(frames), icc_profile=None)


def detached(image: Image.Image) -> Image.Image:
    """A new image object over the same pixels (no copy), with its own ``info``.

    ``Image.save`` keeps its options on the image object (``encoderinfo``) and the loop above
    edits ``info``: two branches of a fan-out encoding one shared frame at once must each do
    that on an object of their own.
    """
    image.load()
    return image._new(image.im)


def frames_for_format(
    picture: Picture, pillow_format: str
) -> tuple[list[Image.Image], bytes | None, tuple[str, ...]]:
    """The frames to save in ``pillow_format``, the ICC profile that still describes them, and
    notes on what the conversion had to give up."""
    known = len(picture.notes)
    picture = cmyk_to_rgb(picture)
    if picture.options.strip == "all":
        try:
            picture = to_srgb(picture)
        except (OSError, ValueError, ImageCms.PyCMSError):
            picture = replace(picture, icc_profile=None)
    background = picture.options.background
    frames = [detached(for_format(frame, pillow_format, background)) for frame in picture.frames]
    for frame in frames:  # savers fall back to frame.info (ImageCms puts its profile there)
        for key in [key for key in frame.info if key != "transparency"]:
            del frame.info[key]
    icc = picture.icc_profile
    if icc is not None:
        wanted = _ICC_SPACE.get(frames[0].mode)
        if wanted is None or icc_space(icc) != wanted:
            icc = None
    return frames, icc, picture.notes[known:]
