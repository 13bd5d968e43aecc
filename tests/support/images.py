"""Sample images made in code (no binary fixtures), shared by the image step tests."""

from __future__ import annotations

import functools
import io
import struct
import zlib
from typing import Any

from PIL import Image, ImageCms

RED = (255, 0, 0)
GREEN = (0, 255, 0)
WHITE = (255, 255, 255)

#: For each EXIF orientation, how to turn an upright image into the stored pixels
#: (the inverse of the transpose that sets them upright).
STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """``image`` saved in ``fmt`` with ``options``."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def open_bytes(data: bytes) -> Image.Image:
    """The image in ``data``, loaded."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Photographic-ish content that does not compress to nothing."""
    return Image.effect_noise(size, 48).convert(mode)


def marker_image(size: tuple[int, int] = (60, 40)) -> Image.Image:
    """White, with a red block in the top-left corner and a green one in the top-right."""
    image = Image.new("RGB", size, WHITE)
    block = min(size) // 4
    image.paste(RED, (0, 0, block, block))
    image.paste(GREEN, (size[0] - block, 0, size[0], block))
    return image


def corner_colours(image: Image.Image) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Colours a few pixels inside the top-left and top-right corners."""
    rgb = image.convert("RGB")
    inset = max(2, min(image.size) // 16)
    left = rgb.getpixel((inset, inset))
    right = rgb.getpixel((image.width - 1 - inset, inset))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    return left, right


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    """Colours equal within ``tolerance`` per channel (JPEG is lossy)."""
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def exif_with_orientation(orientation: int) -> bytes:
    """EXIF holding an orientation and a camera make (so something else is kept)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Bucketstream Camera"
    return exif.tobytes()


def oriented_jpeg(orientation: int, size: tuple[int, int] = (60, 40)) -> bytes:
    """A JPEG of :func:`marker_image` stored rotated/flipped, with EXIF to undo it."""
    upright = marker_image(size)
    method = STORE_FOR_ORIENTATION[orientation]
    stored = upright.transpose(method) if method is not None else upright
    return encode(stored, "JPEG", quality=95, exif=exif_with_orientation(orientation))


@functools.cache
def srgb_profile() -> bytes:
    """An sRGB ICC profile made by LittleCMS, once: its header holds the time it was made."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` × ``height`` (a decompression bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def animated_gif(durations: tuple[int, ...] = (100, 200, 300, 400), loop: int = 0) -> bytes:
    """An animated GIF, 64×48, one colour per frame, with the given frame durations."""
    frames = [Image.new("RGB", (64, 48), (60 * i, 255 - 60 * i, 0)) for i in range(len(durations))]
    return encode(
        frames[0],
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=list(durations),
        loop=loop,
    )


def psd_header() -> bytes:
    """The first bytes of a Photoshop document."""
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 16, 16, 8, 3) + bytes(64)


def fits_header() -> bytes:
    """The first card of a FITS file."""
    return b"SIMPLE  =                    T".ljust(2880, b" ")


def eps_header() -> bytes:
    """The first lines of an Encapsulated PostScript file."""
    return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n"
