"""Loading a decoded image's frames, and the still fallback for broken animations."""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Callable
from typing import Any

from PIL import Image

from steps.errors import ImageTooLarge, TooManyFrames
from steps.image.codec.modes import has_alpha
from steps.image.codec.streams import ChunkReader

#: Frames an animation may have unless the workflow says otherwise: a GIF of 1×1 frames is
#: tiny in pixels but costs a Python object and a conversion per frame (a 64 MiB one held
#: 2.3 GB for a minute before frames were counted).
DEFAULT_MAX_FRAMES = 1000
#: Frame duration used when an animation gives none, in milliseconds.
DEFAULT_FRAME_MS = 100

#: Exceptions Pillow raises on bad input (warnings too, when warnings are errors).
PILLOW_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    KeyError,
    struct.error,
    Warning,
)

#: The last bytes of a complete file, by format: a file ending so was not cut short.
_END_MARKERS = {"PNG": b"IEND\xaeB`\x82", "GIF": b";"}


def still_fallback(
    reader: ChunkReader, image_format: str | None, notes: list[str]
) -> Callable[[int, BaseException], bool]:
    """Whether a broken later frame falls back to the first frame as a still picture.

    An APNG with out-of-order, repeated or missing animation chunks still holds a valid
    default image, which browsers show; a GIF whose later frames are corrupt still has a valid
    first one. Both fall back to it, with a note, when the file is complete (it ends with its
    format's end marker); a file cut short fails as truncated instead.
    """

    def fallback(index: int, error: BaseException) -> bool:
        marker = _END_MARKERS.get(image_format or "")
        if marker is None:
            return False
        reader.seek(0, io.SEEK_END)
        if not reader.held().endswith(marker):
            return False
        notes.append(
            f"the {image_format} animation is broken at frame {index + 1} "
            f"({type(error).__name__}: {error}); its first frame was used as a still picture"
        )
        return True

    return fallback


def load_frames(
    image: Image.Image,
    animated: bool,
    max_pixels: int,
    fallback: Callable[[int, BaseException], bool] | None = None,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> tuple[tuple[Image.Image, ...], tuple[int, ...], int | None, dict[Any, Any]]:
    """The frames (RGB/RGBA for animations), their durations, the loop count, the first info.

    Frames are counted as they are reached: frame ``max_frames + 1`` raises
    :class:`TooManyFrames` before it is decoded, so the rest of the file is never read.

    A still image is loaded as it is, its ``info`` trimmed to what interprets the pixels.
    """
    if not animated:
        image.load()
        info = dict(image.info)
        image.info = pixel_info(info)
        return (image,), (), None, info
    frames: list[Image.Image] = []
    durations: list[int] = []
    first_info: dict[Any, Any] = {}
    total = 0
    for index in itertools.count():
        if index == max_frames and _has_frame(image, index):
            raise TooManyFrames(
                f"the animation has more than {max_frames} frames (image.max_frames); "
                "shorten it, or raise the limit"
            )
        try:
            image.seek(index)
            image.load()
        except EOFError:
            break
        except PILLOW_ERRORS as exc:
            if index == 0 or fallback is None or not fallback(index, exc):
                raise
            return (frames[0],), (), None, first_info
        if index == 0:
            first_info = dict(image.info)
        total += image.width * image.height
        if total > max_pixels:
            raise ImageTooLarge(
                f"the animation holds more than {max_pixels / 1e6:.1f} megapixels over its "
                f"first {index + 1} frames (image.max_pixels); shorten or shrink it"
            )
        frames.append(image.convert("RGBA" if has_alpha(image) else "RGB"))
        durations.append(int(image.info.get("duration") or DEFAULT_FRAME_MS))
    loop = first_info.get("loop")
    return tuple(frames), tuple(durations), int(loop) if loop is not None else None, first_info


def _has_frame(image: Image.Image, index: int) -> bool:
    """Whether ``image`` has a frame ``index`` (its header is read, its pixels are not)."""
    try:
        image.seek(index)
    except EOFError:
        return False
    return True


def pixel_info(info: dict[Any, Any]) -> dict[Any, Any]:
    """Only what interprets the pixels; metadata moves to the Picture's own fields."""
    return {key: info[key] for key in ("transparency",) if key in info}
