r"""Pillow's exceptions on bad input, turned into typed, actionable :class:`StepError`\ s.

Pillow raises ``OSError``, ``SyntaxError``, ``ValueError``... with messages that differ by
format; :func:`classify_error` tells an unsupported format, a file cut short and corrupt data
apart from the bytes the reader saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from steps.errors import (
    ImageTooLarge,
    InvalidImage,
    StepError,
    TruncatedImage,
    UnsupportedFormat,
)
from steps.image.codec.formats import DECODABLE_FORMATS, declared_length, sniff_format
from steps.image.codec.frames import PILLOW_ERRORS
from steps.image.codec.streams import ChunkReader


@contextmanager
def pillow_errors(reader: ChunkReader, formats: tuple[str, ...]) -> Iterator[None]:
    """Turn what Pillow raises on bad input into a typed, actionable :class:`StepError`."""
    try:
        yield
    except StepError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(
            f"{exc} — the image is over Pillow's decompression-bomb limit and was not decoded"
        ) from None
    except PILLOW_ERRORS as exc:
        raise classify_error(exc, reader, formats) from exc


def classify_error(exc: BaseException, reader: ChunkReader, formats: tuple[str, ...]) -> StepError:
    """The typed error for an exception Pillow raised while reading ``reader``."""
    sniffed = sniff_format(reader.prefix)
    allowed = ", ".join(formats)
    unidentified = isinstance(exc, UnidentifiedImageError)
    if unidentified and sniffed is not None and sniffed not in formats:
        hint = " (add it to the workflow's image.formats to accept it)"
        return UnsupportedFormat(
            f"the object is a {sniffed} file, which this workflow does not decode; "
            f"allowed formats: {allowed}" + (hint if sniffed in DECODABLE_FORMATS else "")
        )
    if _looks_truncated(exc, reader, sniffed, formats):
        return TruncatedImage(
            f"the {sniffed or 'image'} data ends after {reader.bytes_received} bytes, before the "
            "image is complete; the upload was probably cut short — upload the file again"
        )
    if unidentified:
        if sniffed is None:
            return InvalidImage(
                f"the object is not an image: its first bytes {reader.prefix[:8]!r} match none "
                f"of the allowed formats ({allowed})"
            )
        return InvalidImage(f"the {sniffed} header is corrupt and cannot be parsed")
    return InvalidImage(f"the {sniffed or 'image'} data is corrupt: {type(exc).__name__}: {exc}")


def _looks_truncated(
    exc: BaseException, reader: ChunkReader, sniffed: str | None, formats: tuple[str, ...]
) -> bool:
    if "truncated" in str(exc).lower():
        return True
    if isinstance(exc, UnidentifiedImageError) and reader.read_past_end and sniffed in formats:
        return True  # the data ended inside the header of an allowed format
    if sniffed in ("WEBP", "AVIF") and reader.at_end:
        declared = declared_length(reader.held())
        return declared is not None and declared > reader.bytes_received
    return False
