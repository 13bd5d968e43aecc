"""A broken animation with a valid first frame: fall back to that frame as a still picture.

Browsers show an APNG's default image when its animation chunks are out of order, repeated
or missing, and a GIF's first frame when later ones are corrupt. The decoder does the same when
the file is complete (it ends with its format's end marker) and notes it; a file cut short is
still reported as truncated.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from steps.image.codec.streams import ChunkReader

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
