"""encode: output framing, format choice, per-format metadata."""

from __future__ import annotations

from dataclasses import replace

import pytest

from steps.errors import EncodeFailed
from steps.image import EncodeOptions, Picture, decode_bytes
from steps.image.codec.encode import encode_picture, target_format
from steps.image.codec.streams import CHUNK_SIZE, ChunkWriter
from tests.support.images import encode, noise, open_bytes, srgb_profile


def big_picture(**options: object) -> Picture:
    picture = Picture(frames=(noise((800, 600)),), source_format="JPEG")
    return replace(picture, options=EncodeOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [{"quality": 95}, {"quality": 95, "progressive": True}, {"format": "PNG"}, {"format": "WEBP"}],
    ids=["baseline", "progressive", "png", "webp"],
)
def test_output_comes_in_full_64k_frames(options: dict[str, object]) -> None:
    chunks: list[bytes] = []
    result = encode_picture(big_picture(**options), ChunkWriter(chunks.append))
    assert len(chunks) > 2
    assert all(len(chunk) == CHUNK_SIZE for chunk in chunks[:-1])
    assert 0 < len(chunks[-1]) <= CHUNK_SIZE
    assert result.bytes_written == sum(map(len, chunks))
    assert result.chunks == len(chunks)
    assert open_bytes(b"".join(chunks)).size == (800, 600)


def test_baseline_jpeg_is_written_while_encoding() -> None:
    """Pillow hands baseline JPEG over in encoder-sized buffers, not all at the end."""
    sizes: list[int] = []

    class Recorder(ChunkWriter):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            sizes.append(len(data))
            return super().write(data)

    encode_picture(big_picture(quality=95), Recorder(lambda chunk: None))
    assert len(sizes) > 2  # several writes during save
    sizes.clear()
    encode_picture(big_picture(quality=95, progressive=True), Recorder(lambda chunk: None))
    assert len(sizes) <= 2  # progressive: one write at the end


def test_target_format() -> None:
    picture = Picture(frames=(noise((4, 4)),), source_format="MPO")
    assert target_format(picture) == "JPEG"
    assert target_format(replace(picture, source_format="")) == "PNG"
    assert target_format(replace(picture, options=EncodeOptions(format="WEBP"))) == "WEBP"


def test_tiff_is_encoded_in_memory_then_streamed() -> None:
    picture = Picture(frames=(noise((40, 30)),), source_format="TIFF")
    chunks: list[bytes] = []
    result = encode_picture(picture, ChunkWriter(chunks.append))
    assert result.format == "TIFF"
    assert open_bytes(b"".join(chunks)).format == "TIFF"


def test_icc_dropped_when_it_does_not_describe_the_output() -> None:
    icc = srgb_profile()
    grey = Picture(frames=(noise((20, 20), "L"),), source_format="PNG", icc_profile=icc)
    chunks: list[bytes] = []
    encode_picture(grey, ChunkWriter(chunks.append))
    assert "icc_profile" not in open_bytes(b"".join(chunks)).info
    rgb = decode_bytes(encode(noise((20, 20)), "PNG", icc_profile=icc))
    chunks.clear()
    encode_picture(rgb, ChunkWriter(chunks.append))
    assert open_bytes(b"".join(chunks)).info["icc_profile"] == icc


def test_xmp_kept_when_asked() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
    for fmt in ("JPEG", "PNG", "WEBP"):
        picture = decode_bytes(encode(noise((20, 20)), "JPEG", xmp=xmp))
        picture = replace(picture, options=EncodeOptions(format=fmt, strip="none"))
        chunks: list[bytes] = []
        encode_picture(picture, ChunkWriter(chunks.append))
        info = open_bytes(b"".join(chunks)).info
        found = info.get("xmp") or info.get("XML:com.adobe.xmp") or b""
        assert xmp in (found.encode() if isinstance(found, str) else found), fmt


def test_unwritable_picture_is_a_typed_error() -> None:
    picture = Picture(frames=(noise((70_000, 1), "L"),), source_format="JPEG")
    with pytest.raises(EncodeFailed, match="JPEG"):
        encode_picture(picture, ChunkWriter(lambda chunk: None))
