"""EXIF without surprises: a small, strict reader of the TIFF structure that holds EXIF.

Pillow parses EXIF lazily and reports corruption with warnings (which become exceptions when
warnings are errors). Here the structure is checked once, completely and deterministically:
every IFD and every out-of-line value must lie inside the data. Corrupt EXIF is then *dropped*
by the decoder (the pixels are still processed, orientation counts as upright) rather than
failing the execution. The orientation tag is read, and removed, directly in the raw bytes so
that the rest of the EXIF is kept exactly as it was.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

EXIF_HEADER = b"Exif\x00\x00"
ORIENTATION_TAG = 0x0112
#: IFD0 tag pointing to the GPS IFD (location, altitude, time, direction of the shot).
GPS_IFD_TAG = 0x8825
#: Tags pointing to a sub-IFD: Exif, GPS, Interoperability.
SUB_IFD_TAGS = frozenset({0x8769, 0x8825, 0xA005})
#: Bytes per value of each TIFF field type.
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_IFDS = 16
_ENTRY = 12


class CorruptExif(ValueError):
    """EXIF data whose TIFF structure points outside itself or is otherwise malformed."""


@dataclass(frozen=True)
class ExifData:
    """Checked EXIF: the TIFF structure (no ``Exif\\0\\0`` prefix) and its orientation."""

    raw: bytes
    orientation: int

    def without_orientation(self) -> bytes:
        """The raw EXIF with the orientation tag removed from IFD0 (offsets unchanged)."""
        return remove_tag(self.raw, ORIENTATION_TAG)


def parse_exif(data: bytes) -> ExifData:
    """Check ``data`` (with or without the ``Exif\\0\\0`` prefix); raise CorruptExif if bad.

    An orientation outside 1-8 (some cameras write 0) counts as upright.
    """
    raw = data.removeprefix(EXIF_HEADER)
    order, ifd0 = _header(raw)
    seen: set[int] = set()
    _check_ifd(raw, order, ifd0, seen, depth=0)
    value = _find_short(raw, order, ifd0, ORIENTATION_TAG)
    orientation = value if value is not None and 1 <= value <= 8 else 1
    return ExifData(raw=raw, orientation=orientation)


def remove_tag(raw: bytes, tag: int) -> bytes:
    """``raw`` without ``tag`` in IFD0; the IFD keeps its size so no offset moves."""
    order, ifd0 = _header(raw)
    count = _u16(raw, order, ifd0)
    start = ifd0 + 2
    for index in range(count):
        entry = start + index * _ENTRY
        if _u16(raw, order, entry) != tag:
            continue
        out = bytearray(raw)
        end = min(start + count * _ENTRY + 4, len(raw))
        out[entry : end - _ENTRY] = raw[entry + _ENTRY : end]
        out[end - _ENTRY : end] = bytes(_ENTRY)
        struct.pack_into(order + "H", out, ifd0, count - 1)
        return bytes(out)
    return raw


def remove_gps(raw: bytes) -> bytes:
    """``raw`` without its GPS data: the GPS IFD's entries and values zeroed, its pointer
    removed from IFD0. Nothing else moves, so every other offset stays valid."""
    order, ifd0 = _header(raw)
    for index in range(_u16(raw, order, ifd0)):
        entry = ifd0 + 2 + index * _ENTRY
        if _u16(raw, order, entry) == GPS_IFD_TAG:
            gps = _u32(raw, order, entry + 8)
            break
    else:
        return raw
    out = bytearray(raw)
    if gps >= 8 and gps + 2 <= len(raw):
        count = _u16(raw, order, gps)
        for item in range(count):
            field = gps + 2 + item * _ENTRY
            if field + _ENTRY > len(raw):
                break
            _, kind, number = struct.unpack_from(order + "HHI", raw, field)
            size = TYPE_SIZES.get(kind, 1) * number
            start = _u32(raw, order, field + 8)
            if size > 4 and start < len(raw):
                stop = min(start + size, len(raw))
                out[start:stop] = bytes(stop - start)
        end = min(gps + 2 + count * _ENTRY + 4, len(raw))
        out[gps:end] = bytes(end - gps)
    return remove_tag(bytes(out), GPS_IFD_TAG)


def _header(raw: bytes) -> tuple[str, int]:
    if len(raw) < 8:
        raise CorruptExif("EXIF data is shorter than a TIFF header")
    if raw[:2] == b"II":
        order = "<"
    elif raw[:2] == b"MM":
        order = ">"
    else:
        raise CorruptExif("EXIF data does not start with a TIFF byte-order mark")
    if _u16(raw, order, 2) != 42:
        raise CorruptExif("EXIF data lacks the TIFF magic number")
    return order, _u32(raw, order, 4)


def _check_ifd(raw: bytes, order: str, offset: int, seen: set[int], depth: int) -> None:
    if offset in seen:
        raise CorruptExif(f"EXIF IFD at offset {offset} is referenced twice (a loop)")
    if len(seen) >= _MAX_IFDS or depth > 4:
        raise CorruptExif("EXIF data nests too many IFDs")
    seen.add(offset)
    if offset < 8 or offset + 2 > len(raw):
        raise CorruptExif(f"EXIF IFD offset {offset} is outside the {len(raw)}-byte data")
    count = _u16(raw, order, offset)
    entries_end = offset + 2 + count * _ENTRY
    if entries_end > len(raw):
        raise CorruptExif(f"EXIF IFD at {offset} declares {count} entries past the data's end")
    for index in range(count):
        entry = offset + 2 + index * _ENTRY
        tag, kind, number = struct.unpack_from(order + "HHI", raw, entry)
        size = TYPE_SIZES.get(kind)
        if size is None:
            raise CorruptExif(f"EXIF tag {tag:#06x} has unknown field type {kind}")
        if size * number > 4:
            start = _u32(raw, order, entry + 8)
            if start + size * number > len(raw):
                raise CorruptExif(f"EXIF tag {tag:#06x} points past the end of the data")
        if tag in SUB_IFD_TAGS and kind in (4, 13) and number == 1:
            _check_ifd(raw, order, _u32(raw, order, entry + 8), seen, depth + 1)
    if entries_end + 4 <= len(raw):
        following = _u32(raw, order, entries_end)
        if following:
            _check_ifd(raw, order, following, seen, depth + 1)


def _find_short(raw: bytes, order: str, offset: int, tag: int) -> int | None:
    for index in range(_u16(raw, order, offset)):
        entry = offset + 2 + index * _ENTRY
        found, kind, number = struct.unpack_from(order + "HHI", raw, entry)
        if found == tag and kind == 3 and number >= 1:
            return _u16(raw, order, entry + 8)
    return None


def _u16(raw: bytes, order: str, offset: int) -> int:
    value: int = struct.unpack_from(order + "H", raw, offset)[0]
    return value


def _u32(raw: bytes, order: str, offset: int) -> int:
    value: int = struct.unpack_from(order + "I", raw, offset)[0]
    return value
