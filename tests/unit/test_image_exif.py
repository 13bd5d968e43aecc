"""The strict EXIF reader: orientation, tag removal, corruption detected without Pillow."""

from __future__ import annotations

import struct

import pytest
from PIL import Image

from steps.image.codec.exif import EXIF_HEADER, CorruptExif, parse_exif, remove_tag
from tests.support.images import exif_with_orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_reads_orientation(orientation: int) -> None:
    assert parse_exif(exif_with_orientation(orientation)).orientation == orientation


def test_accepts_data_with_or_without_the_jpeg_prefix() -> None:
    with_prefix = exif_with_orientation(3)
    assert with_prefix.startswith(EXIF_HEADER)
    assert parse_exif(with_prefix.removeprefix(EXIF_HEADER)).orientation == 3
    assert not parse_exif(with_prefix).raw.startswith(EXIF_HEADER)


def test_orientation_out_of_range_counts_as_upright() -> None:
    assert parse_exif(exif_with_orientation(0)).orientation == 1
    assert parse_exif(exif_with_orientation(9)).orientation == 1


def test_big_endian() -> None:
    ifd = struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, 8, 0) + bytes(4)
    raw = b"MM\x00*" + struct.pack(">I", 8) + ifd
    assert parse_exif(raw).orientation == 8


def test_removing_orientation_keeps_the_rest() -> None:
    data = parse_exif(exif_with_orientation(6))
    stripped = data.without_orientation()
    assert len(stripped) == len(data.raw)
    reparsed = Image.Exif()
    reparsed.load(stripped)
    assert 0x0112 not in reparsed
    assert reparsed[0x010F] == "Bucketstream Camera"
    assert parse_exif(stripped).orientation == 1


def test_remove_missing_tag_is_a_no_op() -> None:
    raw = parse_exif(exif_with_orientation(1)).raw
    assert remove_tag(raw, 0x9999) == raw


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage-not-tiff",
        b"II*\x00" + struct.pack("<I", 0xFFFFFF),
        b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 0xFFFF) + b"\x12\x01",
        b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x0112, 99, 1, 6) + bytes(4),
        b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x010F, 2, 100, 9999),
        b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x8769, 4, 1, 8) + bytes(4),
        b"XX*\x00" + struct.pack("<I", 8),
        b"II+\x00" + struct.pack("<I", 8),
    ],
    ids=[
        "not-tiff",
        "ifd-outside",
        "too-many-entries",
        "bad-type",
        "value-outside",
        "loop",
        "order",
        "magic",
    ],
)
def test_corruption_is_detected(raw: bytes) -> None:
    with pytest.raises(CorruptExif):
        parse_exif(raw)
