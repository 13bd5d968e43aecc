"""A corpus of bad and odd image inputs, each with what the service must make of it.

Every entry is generated (no binary files in the repository): broken files are cut from
valid ones Pillow writes, bombs are hand-made headers declaring huge sizes with almost no data,
foreign formats are their real magic bytes. ``must_fail`` entries have to fail with one of
their codes; the others are odd but decodable and may succeed, or fail with an input error
code — never with an internal error, and never with a partial output.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

#: Codes of bad input (steps.errors), the only failures allowed for image inputs.
INPUT_ERROR_CODES = frozenset(
    {
        "EmptyInput",
        "InvalidImage",
        "TruncatedImage",
        "UnsupportedFormat",
        "ImageTooLarge",
        "EncodeFailed",
        "InvalidCompressedData",
        "InvalidInput",
    }
)
BROKEN = frozenset({"InvalidImage", "TruncatedImage"})


@dataclass(frozen=True)
class Case:
    """One input: file name (the extension may lie), its bytes, and what is allowed."""

    name: str
    data: bytes
    #: Codes one of which the execution must fail with; empty: success is allowed too.
    must_fail: frozenset[str] = frozenset()

    @property
    def allowed_codes(self) -> frozenset[str]:
        """Failure codes this input may produce."""
        return self.must_fail or INPUT_ERROR_CODES


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(size: tuple[int, int] = (320, 240), mode: str = "RGB") -> Image.Image:
    return Image.effect_noise(size, 40).convert(mode)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def _png(
    width: int, height: int, depth: int = 8, color: int = 2, rows: bytes | None = None
) -> bytes:
    """A PNG built by hand (any size and depth); ``rows`` default to zeros."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    if rows is None:
        stride = 1 + (width * channels * depth + 7) // 8
        rows = b"\x00" * (stride * height)
    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def _png_bomb(width: int, height: int) -> bytes:
    """A real 1-bit PNG of zeros: a few KiB that decode to ``width × height`` pixels."""
    stride = 1 + (width + 7) // 8
    compressor = zlib.compressobj(9)
    row = b"\x00" * stride
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def _jpeg_header_bomb(width: int, height: int) -> bytes:
    """A baseline JPEG whose SOF0 declares ``width × height``, with a few bytes of scan."""
    valid = _save(_photo((16, 16)), "JPEG", quality=80)
    sof = valid.index(b"\xff\xc0")
    patched = bytearray(valid)
    patched[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(patched)


def _gif(width: int, height: int, frames: int, frame_size: tuple[int, int] = (1, 1)) -> bytes:
    """A GIF with a ``width × height`` canvas and ``frames`` tiny frames, built by hand."""
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0))
    out += b"\x00\x00\x00\xff\xff\xff"  # a 2-colour global table
    out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for _ in range(frames):
        out += b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # 100 ms
        out += b"\x2c" + struct.pack("<HHHHB", 0, 0, *frame_size, 0)
        out += b"\x02\x02\x44\x01\x00"  # LZW data of one pixel
    return bytes(out + b"\x3b")


def _webp_canvas_bomb() -> bytes:
    """A WebP with a VP8X chunk declaring a 16384 × 16384 canvas, then a tiny bitstream."""
    small = _save(_photo((16, 16)), "WEBP", quality=50)
    bitstream = small[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00"
    vp8x += (16383).to_bytes(3, "little") * 2
    body = b"WEBP" + vp8x + bitstream
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _bmp_header_bomb() -> bytes:
    """A BMP header declaring 50000 × 50000 at 24 bits, with no pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, 50_000, 50_000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _png_text_bomb() -> bytes:
    """A PNG whose zTXt chunk inflates to 64 MiB of zeros."""
    valid = _save(_photo((16, 16)), "PNG")
    ztxt = b"Comment\x00\x00" + zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)
    end = valid.index(b"IEND") - 4
    return valid[:end] + _chunk(b"zTXt", ztxt) + valid[end:]


def _jpeg_with_comments(count: int) -> bytes:
    jpeg = _save(_photo((64, 64)), "JPEG")
    comment = b"\xff\xfe" + struct.pack(">H", 65_535) + b"c" * 65_533
    return jpeg[:2] + comment * count + jpeg[2:]


def _corrupt_scan(jpeg: bytes) -> bytes:
    generator = random.Random(11)
    scan = jpeg.index(b"\xff\xda") + 20
    damaged = bytearray(jpeg)
    for _ in range(200):
        position = generator.randrange(scan, len(jpeg) - 2)
        damaged[position] = generator.randrange(0, 255)  # never 0xff: no new markers
    return bytes(damaged)


def _cut(data: bytes, keep: float | int) -> bytes:
    return data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep]


def image_cases() -> list[Case]:
    """The corpus: about fifty inputs, from empty to bombs to foreign formats."""
    generator = random.Random(2026)
    photo = _photo()
    jpeg = _save(photo, "JPEG", quality=85)
    png = _save(photo, "PNG")
    gif = _save(photo.convert("P"), "GIF")
    webp = _save(photo, "WEBP", quality=70)
    bmp = _save(photo, "BMP")
    too_large = frozenset({"ImageTooLarge"})
    unsupported = frozenset({"UnsupportedFormat"})
    return [
        Case("empty.jpg", b"", frozenset({"EmptyInput"})),
        Case("random-1k.jpg", generator.randbytes(1024), BROKEN),
        Case("random-256k.png", generator.randbytes(256 * 1024), BROKEN),
        Case("text.png", b"hello, this is not an image\n" * 50, BROKEN),
        Case("html.jpg", b"<!doctype html><html><body>hi</body></html>", BROKEN),
        Case("one-byte.gif", b"G", BROKEN),
        Case("jpeg-2-bytes.jpg", jpeg[:2], BROKEN),
        Case("jpeg-100-bytes.jpg", _cut(jpeg, 100), BROKEN),
        Case("jpeg-30pct.jpg", _cut(jpeg, 0.3), BROKEN),
        Case("jpeg-70pct.jpg", _cut(jpeg, 0.7), BROKEN),
        Case("jpeg-no-eoi.jpg", jpeg[:-2]),
        Case("png-signature-only.png", png[:8], BROKEN),
        Case("png-ihdr-only.png", png[:33], BROKEN),
        Case("png-50pct.png", _cut(png, 0.5), BROKEN),
        Case("png-no-iend.png", png[:-12]),
        Case("gif-header-only.gif", gif[:13], BROKEN),
        Case("gif-50pct.gif", _cut(gif, 0.5)),
        Case("webp-50pct.webp", _cut(webp, 0.5), BROKEN),
        Case("webp-20-bytes.webp", webp[:20], BROKEN),
        Case("bmp-50pct.bmp", _cut(bmp, 0.5), BROKEN),
        Case("png-bomb-header.png", _png(100_000, 100_000, rows=b"\x00"), too_large),
        Case("png-bomb-real.png", _png_bomb(12_000, 12_000), too_large),
        Case("jpeg-bomb-header.jpg", _jpeg_header_bomb(65_000, 65_000), too_large),
        Case("gif-bomb-header.gif", _gif(65_535, 65_535, 1), too_large),
        Case("gif-animation-bomb.gif", _gif(3_000, 3_000, 12), too_large),
        Case("webp-canvas-bomb.webp", _webp_canvas_bomb(), too_large | BROKEN),
        Case("bmp-bomb-header.bmp", _bmp_header_bomb(), too_large),
        Case("png-wide-strip.png", _png(95_000, 1_000, depth=1, color=0), too_large),
        Case("png-named-jpg.jpg", png),
        Case("jpeg-named-gif.gif", jpeg),
        Case("webp-named-png.png", webp),
        Case("cmyk.jpg", _save(_photo(mode="CMYK"), "JPEG")),
        Case("grey-16-bit.png", _save(_photo().convert("I;16"), "PNG")),
        Case("rgb-16-bit.png", _png(32, 32, depth=16, color=2)),
        Case("palette-without-plte.png", _png(64, 64, depth=1, color=3)),
        Case("exif-garbage.jpg", _with_app1(jpeg, b"Exif\x00\x00" + generator.randbytes(300))),
        Case("exif-orientation-9.jpg", _save(photo, "JPEG", exif=_exif(9))),
        Case(
            "exif-truncated-ifd.jpg",
            _with_app1(jpeg, b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff"),
        ),
        Case("jpeg-corrupt-scan.jpg", _corrupt_scan(jpeg)),
        Case("jpeg-many-comments.jpg", _jpeg_with_comments(40)),
        Case("png-bad-crc.png", png[:29] + b"\x00\x00\x00\x00" + png[33:], BROKEN),
        Case("png-zero-size.png", _png(0, 0, rows=b""), BROKEN),
        Case("gif-zero-size.gif", _gif(0, 0, 1, frame_size=(0, 0))),
        Case("png-ztxt-bomb.png", _png_text_bomb()),
        Case(
            "webp-random-payload.webp",
            b"RIFF\x00\x10\x00\x00WEBPVP8 " + generator.randbytes(4096),
            BROKEN,
        ),
        Case("psd.jpg", b"8BPS\x00\x01" + b"\x00" * 20, unsupported),
        Case("eps.png", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", unsupported),
        Case("fits.jpg", b"SIMPLE  =                    T" + b" " * 2850, unsupported),
        Case("pdf.png", b"%PDF-1.7\n1 0 obj<<>>endobj\n", unsupported),
        Case(
            "svg.png",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
            unsupported | BROKEN,
        ),
        Case("tiff.jpg", _save(photo, "TIFF"), unsupported),
        Case("ico.png", _save(photo, "ICO"), unsupported),
        Case(
            "heic.jpg",
            b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
            unsupported,
        ),
        Case("jpeg2000.jpg", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 64, unsupported),
    ]


def gzip_cases() -> list[Case]:
    """Bad input for the ``gunzip`` byte step."""
    import gzip

    valid = gzip.compress(random.Random(3).randbytes(10_000))
    invalid = frozenset({"InvalidCompressedData"})
    return [
        Case("random.gz", random.Random(4).randbytes(5000), invalid),
        Case("truncated.gz", valid[: len(valid) // 2], invalid),
        Case("empty.gz", b"", invalid),
        Case("header-only.gz", valid[:10], invalid),
    ]


Builder = Callable[[], list[Case]]
