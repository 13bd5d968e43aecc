"""Image format names: what decode may open, what encode writes, and sniffing by magic bytes.

Decode opens only whitelisted formats (``Image.open(fp, formats=...)``). The default list holds
formats with small, well-fuzzed decoders that the web uses: JPEG, PNG, WebP, GIF, BMP, and AVIF
where Pillow was built with it. TIFF may be enabled per workflow (its decoder, libtiff, is large
and needs the whole file in memory). Everything else — PSD, FITS, EPS (which runs Ghostscript),
PDF, ... — can never be enabled.
"""

from __future__ import annotations

from PIL import features

#: Formats a workflow may enable for decoding.
DECODABLE_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "AVIF", "BMP", "TIFF")
#: Formats decoded when a workflow names none.
DEFAULT_DECODE_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP") + (
    ("AVIF",) if features.check("avif") else ()
)
#: Formats whose decoding reads the stream front to back, holding only a small window.
STREAMED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP"})
#: Formats whose files may hold an animation (all frames are kept).
ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP", "AVIF"})
#: Output formats by their workflow name (lower case) → Pillow name.
OUTPUT_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "avif": "AVIF", "gif": "GIF"}
#: Formats encode can write when a workflow keeps the source format.
WRITABLE_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "AVIF", "GIF", "BMP", "TIFF"})

_ALIASES = {"JPG": "JPEG", "TIF": "TIFF", "APNG": "PNG"}


def decode_format(name: str) -> str:
    """The Pillow name of a decodable format; ValueError naming the allowed ones otherwise."""
    upper = _ALIASES.get(name.strip().upper(), name.strip().upper())
    if upper not in DECODABLE_FORMATS:
        allowed = ", ".join(DECODABLE_FORMATS)
        raise ValueError(f"format {name!r} cannot be decoded; choose from {allowed}")
    if upper == "AVIF" and not features.check("avif"):
        raise ValueError("format 'AVIF' is not available: Pillow was built without libavif")
    return upper


def sniff_format(prefix: bytes) -> str | None:
    """The format the first bytes of a file announce, or None; never parses further."""
    for name, check in _SIGNATURES:
        if check(prefix):
            return name
    return None


def _isobmff_brand(prefix: bytes, brands: tuple[bytes, ...]) -> bool:
    return prefix[4:8] == b"ftyp" and prefix[8:12] in brands


_SIGNATURES = (
    ("JPEG", lambda p: p.startswith(b"\xff\xd8\xff")),
    ("PNG", lambda p: p.startswith(b"\x89PNG\r\n\x1a\n")),
    ("GIF", lambda p: p[:6] in (b"GIF87a", b"GIF89a")),
    ("WEBP", lambda p: p[:4] == b"RIFF" and p[8:12] == b"WEBP"),
    ("AVIF", lambda p: _isobmff_brand(p, (b"avif", b"avis"))),
    ("HEIC", lambda p: _isobmff_brand(p, (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1"))),
    ("BMP", lambda p: p.startswith(b"BM")),
    ("TIFF", lambda p: p[:4] in (b"II*\x00", b"MM\x00*")),
    ("PSD", lambda p: p.startswith(b"8BPS")),
    ("FITS", lambda p: p.startswith(b"SIMPLE  =")),
    ("EPS", lambda p: p.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6"))),
    ("PDF", lambda p: p.startswith(b"%PDF-")),
    ("JPEG2000", lambda p: p.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"))),
    ("ICO", lambda p: p.startswith(b"\x00\x00\x01\x00")),
    ("QOI", lambda p: p.startswith(b"qoif")),
    ("DDS", lambda p: p.startswith(b"DDS ")),
    ("SVG or XML", lambda p: p.lstrip().startswith((b"<svg", b"<?xml"))),
)


def declared_length(data: bytes) -> int | None:
    """The file length a container's header declares (RIFF, ISO BMFF boxes), if it does.

    Used to tell a truncated WebP/AVIF (whose decoders read the whole file and only say
    "cannot decode") from a corrupt one.
    """
    if data[:4] == b"RIFF" and len(data) >= 8:
        return int.from_bytes(data[4:8], "little") + 8
    if data[4:8] == b"ftyp":
        offset = 0
        while offset + 8 <= len(data):
            size = int.from_bytes(data[offset : offset + 4], "big")
            if size == 1 and offset + 16 <= len(data):
                size = int.from_bytes(data[offset + 8 : offset + 16], "big")
            if size < 8:  # 0: "to the end of the file"; 2-7: invalid
                return None
            offset += size
        return offset + 8 if offset < len(data) else offset
    return None
