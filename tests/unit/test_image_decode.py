"""decode: formats, shrink-on-load, the early size check, metadata, and every kind of bad input."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import pytest
from PIL import Image, ImageChops, ImageStat, PsdImagePlugin, features
from pydantic import ValidationError

from steps.errors import (
    EmptyInput,
    ImageTooLarge,
    InvalidImage,
    StepError,
    TruncatedImage,
    UnsupportedFormat,
)
from steps.image import DecodeParams, decode_bytes
from steps.image.codec import shrink
from steps.image.codec.band_feed import BandFeed
from steps.image.codec.decode import (
    JPEG_READ_SIZE,
    DecodeProgress,
    decode_stream,
    draft_request,
)
from steps.image.codec.streams import LOOKBACK, ChunkReader
from tests.support.images import (
    animated_gif,
    encode,
    eps_header,
    exif_with_orientation,
    fits_header,
    marker_image,
    noise,
    png_declaring,
    psd_header,
    srgb_profile,
)

FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "BMP"] + (["AVIF"] if features.check("avif") else [])


@pytest.mark.parametrize("fmt", FORMATS)
def test_decodes_every_default_format(fmt: str) -> None:
    picture = decode_bytes(encode(noise((80, 50)), fmt))
    assert picture.size == (80, 50)
    assert picture.source_format == fmt
    assert not picture.is_animated


def test_nbytes_counts_pixels_and_bands() -> None:
    picture = decode_bytes(encode(noise((80, 50)), "PNG"))
    assert picture.nbytes == 80 * 50 * 3


def test_draft_shrinks_a_jpeg_on_load() -> None:
    data = encode(noise((1200, 800)), "JPEG")
    progress = DecodeProgress()
    reader = ChunkReader.over([data])
    picture = decode_stream(reader, DecodeParams(target_size=(100, 100)), progress)
    assert picture.size == (150, 100)  # the 1/8 DCT scale, the smallest covering 100 × 100
    assert picture.source_size == (1200, 800)
    assert progress.draft_scale == 8


def test_draft_keeps_the_oversample_margin() -> None:
    data = encode(noise((1200, 800)), "JPEG")
    picture = decode_bytes(data, DecodeParams(target_size=(300, 300), oversample=2.0))
    assert picture.size == (600, 400)  # 3/8 would give 450 wide, under 300 × 2


@pytest.mark.parametrize(
    ("declared", "box", "decoded"),
    [
        ((6000, 4000), (2048, 2048), (2250, 1500)),  # 3/8 covers it: no need for 1/2
        ((1001, 777), (370, 370), (376, 292)),  # ⌈1001 × 3/8⌉ × ⌈777 × 3/8⌉, odd sides
        ((1003, 9), (1100, 1100), (1003, 9)),  # no reduction asked: full size
        ((1200, 800), (460, 460), (600, 400)),  # 3/8 = 450 wide, under 460: 1/2
        ((1200, 800), (290, 290), (300, 200)),  # 1/4 covers it, smaller than 3/8
    ],
)
def test_shrink_on_load_picks_the_smallest_eighth_that_covers_the_box(
    declared: tuple[int, int], box: tuple[int, int], decoded: tuple[int, int]
) -> None:
    source = noise(declared)
    data = encode(source, "JPEG", quality=95)
    progress = DecodeProgress()
    picture = decode_stream(ChunkReader.over([data]), DecodeParams(target_size=box), progress)
    assert picture.size == decoded
    # the pixels are the picture's, not a misread buffer: close to a resize of the full decode
    full = decode_bytes(data).image.resize(decoded, Image.Resampling.BOX)
    assert ImageStat.Stat(ImageChops.difference(picture.image, full)).mean[0] < 30


def test_three_eighths_needs_libjpeg_turbo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shrink, "scales_in_eighths", lambda: False)
    data = encode(noise((1600, 1200)), "JPEG")
    picture = decode_bytes(data, DecodeParams(target_size=(600, 600)))
    assert picture.size == (800, 600)  # Pillow's own choice, 1/2


def test_pillow_bundles_libjpeg_turbo() -> None:
    assert shrink.scales_in_eighths()  # else every 3/8 shrink-on-load falls back to 1/2


def test_no_target_means_full_size() -> None:
    picture = decode_bytes(encode(noise((1200, 800)), "JPEG"))
    assert picture.size == (1200, 800)


def test_draft_swaps_the_box_for_a_rotated_orientation() -> None:
    stored = noise((1200, 800))  # shown upright as 800 × 1200
    data = encode(stored, "JPEG", exif=exif_with_orientation(6))
    # with a margin of 1.4: 1/4 covers the swapped box, 1/8 would cover only the unswapped one
    picture = decode_bytes(data, DecodeParams(target_size=(100, 400), oversample=1.4))
    assert picture.orientation == 6
    assert picture.size == (300, 200)


def test_draft_request_is_none_when_no_reduction_is_possible() -> None:
    assert draft_request((1000, 800), (900, 900), 1.4) is None
    assert draft_request((1000, 800), (100, 100), 1.0) == (100, 80)


def test_png_is_not_drafted() -> None:
    picture = decode_bytes(encode(noise((400, 300)), "PNG"), DecodeParams(target_size=(10, 10)))
    assert picture.size == (400, 300)


def test_jpeg_decode_streams_with_bounded_memory() -> None:
    data = encode(noise((1500, 1000)), "JPEG", quality=95)
    assert len(data) > 1_000_000
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    reader = ChunkReader.over(chunks)
    progress = DecodeProgress()
    decode_stream(reader, DecodeParams(), progress)
    assert progress.streamed
    # two look-back windows, one read of the decoder and one chunk: never the whole file
    assert reader.peak_buffered <= 2 * LOOKBACK + JPEG_READ_SIZE + 65536
    assert progress.header_bytes == 65536  # the size was known from the first chunk


def test_metadata_is_carried() -> None:
    icc = srgb_profile()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
    data = encode(marker_image(), "JPEG", icc_profile=icc, exif=exif_with_orientation(1), xmp=xmp)
    picture = decode_bytes(data)
    assert picture.icc_profile == icc
    assert picture.exif is not None and b"Bucketstream Camera" in picture.exif
    assert picture.xmp == xmp
    assert "icc_profile" not in picture.image.info  # metadata lives in the picture, not the frame


def test_animated_gif_keeps_frames_durations_and_loop() -> None:
    picture = decode_bytes(animated_gif((100, 200, 300, 400), loop=0))
    assert len(picture.frames) == 4
    assert picture.durations == (100, 200, 300, 400)
    assert picture.loop == 0
    assert picture.nbytes == 4 * 64 * 48 * 3


def test_palette_transparency_is_kept() -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 10, 20))
    picture = decode_bytes(encode(image, "PNG", transparency=0))
    assert picture.image.mode == "P"
    assert picture.image.info["transparency"] == 0


def test_sixteen_bit_png_stays_sixteen_bit() -> None:
    image = Image.new("I;16", (16, 16), 40000)
    assert decode_bytes(encode(image, "PNG")).image.mode == "I;16"


def test_tiff_needs_to_be_enabled() -> None:
    data = encode(noise((40, 30)), "TIFF")
    with pytest.raises(UnsupportedFormat, match=r"image\.formats"):
        decode_bytes(data)
    picture = decode_bytes(data, DecodeParams(formats=("jpeg", "tiff")))
    assert picture.size == (40, 30)


# --- bad input ---------------------------------------------------------------------------------


def test_empty_input() -> None:
    with pytest.raises(EmptyInput, match="empty"):
        decode_bytes(b"")
    with pytest.raises(EmptyInput):
        decode_bytes([b"", b""])


def test_non_image_bytes() -> None:
    with pytest.raises(InvalidImage, match="not an image") as caught:
        decode_bytes(b"<html><body>404 not found</body></html>" * 10)
    assert type(caught.value) is InvalidImage
    assert caught.value.code == "InvalidImage"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_truncated_image(fmt: str) -> None:
    data = encode(noise((300, 200), "P" if fmt == "GIF" else "RGB"), fmt)
    with pytest.raises(TruncatedImage, match="ends after") as caught:
        decode_bytes(data[: len(data) // 2])
    assert caught.value.code == "TruncatedImage"


def test_image_cut_inside_its_header_is_truncated() -> None:
    data = encode(noise((300, 200)), "PNG")
    with pytest.raises(TruncatedImage):
        decode_bytes(data[:30])


def test_corrupt_jpeg_data_is_invalid() -> None:
    data = bytearray(encode(noise((300, 200)), "JPEG"))
    table = data.index(b"\xff\xc4")  # a Huffman table whose code counts overflow
    data[table + 5 : table + 21] = b"\xff" * 16
    with pytest.raises(InvalidImage, match="corrupt") as caught:
        decode_bytes(bytes(data))
    assert type(caught.value) is InvalidImage


def test_decompression_bomb_is_refused_before_reading_the_body() -> None:
    with pytest.raises(ImageTooLarge, match="decompression-bomb"):
        decode_bytes(png_declaring(100_000, 100_000))


def test_pillow_bomb_warning_is_too_large_as_well() -> None:
    with pytest.raises(ImageTooLarge):  # between Pillow's limit and twice it: a warning
        decode_bytes(png_declaring(10_000, 10_000), DecodeParams(max_pixels=200_000_000))


def test_configured_pixel_limit_stops_after_the_header() -> None:
    data = encode(noise((600, 400)), "JPEG", quality=95)
    fetched: list[int] = []
    chunks: Iterator[bytes] = (data[i : i + 4096] for i in range(0, len(data), 4096))

    def fetch() -> bytes | None:
        chunk = next(chunks, None)
        fetched.append(len(chunk or b""))
        return chunk

    with pytest.raises(ImageTooLarge, match="max_pixels"):
        decode_stream(ChunkReader(fetch), DecodeParams(max_pixels=100_000))
    assert sum(fetched) < len(data) // 4


def test_animation_pixel_budget_counts_every_frame() -> None:
    with pytest.raises(ImageTooLarge, match="animation"):
        decode_bytes(animated_gif((100, 100, 100, 100)), DecodeParams(max_pixels=64 * 48 * 3))


def test_psd_is_never_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: object) -> None:
        raise AssertionError("the PSD parser must not run")

    monkeypatch.setattr(PsdImagePlugin.PsdImageFile, "_open", refuse)
    with pytest.raises(UnsupportedFormat, match="PSD") as caught:
        decode_bytes(psd_header())
    assert caught.value.code == "UnsupportedFormat"


@pytest.mark.parametrize(("data", "name"), [(fits_header(), "FITS"), (eps_header(), "EPS")])
def test_disallowed_formats(data: bytes, name: str) -> None:
    with pytest.raises(UnsupportedFormat, match=name):
        decode_bytes(data)


def test_disallowed_formats_cannot_be_enabled() -> None:
    for name in ("PSD", "FITS", "EPS", "PDF"):
        with pytest.raises(ValidationError, match="cannot be decoded"):
            DecodeParams(formats=(name,))


def test_corrupt_exif_is_dropped_and_noted() -> None:
    bad_type = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x63\x00\x01\x00\x00\x00"
    data = encode(marker_image(), "JPEG", exif=bad_type + b"\x06\x00\x00\x00\x00\x00\x00\x00")
    picture = decode_bytes(data)
    assert picture.exif is None
    assert picture.orientation == 1
    assert any("corrupt EXIF" in note for note in picture.notes)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_exif_pillow_warns_about_is_dropped_too() -> None:
    data = encode(
        marker_image(), "JPEG", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff\x12\x01"
    )
    picture = decode_bytes(data)
    assert picture.exif is None
    assert picture.size == (60, 40)


def test_exif_warning_raised_as_an_error_is_a_typed_error() -> None:
    data = encode(
        marker_image(), "JPEG", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff\x12\x01"
    )
    with pytest.raises(InvalidImage, match="Corrupt EXIF"):
        decode_bytes(data)  # pytest turns warnings into errors; the error is still typed


def test_every_bad_input_error_is_a_step_error() -> None:
    for data in (b"", b"nope" * 10, png_declaring(100_000, 100_000), psd_header()):
        with pytest.raises(StepError):
            decode_bytes(data)


# --- params ------------------------------------------------------------------------------------


def test_params_defaults_and_aliases() -> None:
    params = DecodeParams(formats=("jpg", "PNG", "jpeg"))
    assert params.formats == ("JPEG", "PNG")
    assert params.max_pixels == Image.MAX_IMAGE_PIXELS
    assert params.oversample == 1.0
    assert "JPEG" in DecodeParams().formats


@pytest.mark.parametrize(
    "raw",
    [
        {"unknown": 1},
        {"oversample": 0.5},
        {"max_pixels": 0},
        {"target_size": (0, 10)},
        {"formats": []},
    ],
)
def test_params_are_validated(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DecodeParams.model_validate(raw)


# --- one big JPEG: how much shrink-on-load saves -------------------------------------------------


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 24-megapixel JPEG (6000 × 4000)."""
    return encode(noise((600, 400)).resize((6000, 4000)), "JPEG", quality=90)


def test_draft_makes_a_24_megapixel_decode_much_cheaper(big_jpeg: bytes) -> None:
    def timed(params: DecodeParams) -> tuple[float, tuple[int, int]]:
        """The least CPU time of this thread over 3 decodes (immune to a busy machine)."""
        times = []
        for _ in range(3):
            started = time.thread_time()
            picture = decode_bytes(big_jpeg, params)
            times.append(time.thread_time() - started)
        return min(times), picture.size

    full_time, full_size = timed(DecodeParams())
    quarter_time, quarter_size = timed(DecodeParams(target_size=(1400, 900)))
    eighth_time, eighth_size = timed(DecodeParams(target_size=(400, 400)))
    assert full_size == (6000, 4000)
    assert quarter_size == (1500, 1000)  # 1/8 would be 750 wide, under 1400
    assert eighth_size == (750, 500)
    # Part of a full decode's cost is faulting in its 96 MB (~0.2 s of CPU then, a third of it
    # at 1/4); when the pages come back from an earlier picture it costs ~0.12 s, and 1/4 and
    # 1/8, both bound by the entropy decoding, still take at most ~0.62 of that.
    assert quarter_time < full_time * 0.75
    assert eighth_time < full_time * 0.75


@pytest.mark.parametrize("fmt", ["PNG", "BMP"])
def test_png_and_bmp_decode_streams_too(fmt: str) -> None:
    data = encode(noise((800, 600)), fmt)
    reader = ChunkReader.over([data[i : i + 65536] for i in range(0, len(data), 65536)])
    progress = DecodeProgress()
    decode_stream(reader, DecodeParams(), progress)
    assert progress.streamed
    assert len(data) > 1_000_000
    assert reader.peak_buffered <= 4 * 65536


def test_progressive_jpeg_is_drafted_too() -> None:
    data = encode(noise((1200, 800)), "JPEG", progressive=True)
    assert decode_bytes(data, DecodeParams(target_size=(100, 100))).size == (150, 100)


def test_gif_keeps_the_whole_file_for_random_access() -> None:
    data = animated_gif()
    reader = ChunkReader.over([data[i : i + 100] for i in range(0, len(data), 100)])
    progress = DecodeProgress()
    picture = decode_stream(reader, DecodeParams(), progress)
    assert not progress.streamed
    assert reader.peak_buffered >= len(data)
    assert reader.buffered == 0  # released: the picture does not keep the compressed file
    assert len(picture.frames) == 4


def test_pillow_globals_are_left_alone() -> None:
    from PIL import ImageFile

    limit = Image.MAX_IMAGE_PIXELS
    decode_bytes(encode(noise((40, 30)), "JPEG"), DecodeParams(max_pixels=10_000))
    with pytest.raises(ImageTooLarge):
        decode_bytes(encode(noise((400, 300)), "JPEG"), DecodeParams(max_pixels=10_000))
    assert limit == Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_an_mpo_keeps_pillows_own_shrink_on_load() -> None:
    """A multi-picture JPEG opens as MPO (frames of its own): no 3/8 scale, no bands."""
    first, second = noise((1600, 1200)), noise((1600, 1200))
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    progress = DecodeProgress()
    feed = BandFeed()
    picture = decode_stream(
        ChunkReader.over([buffer.getvalue()]),
        DecodeParams(target_size=(600, 600)),
        progress,
        feed,
    )
    assert picture.source_format == "MPO"
    assert picture.size == (800, 600)  # Pillow's 1/2, where 3/8 would give 600 × 450
    assert list(feed) == [] and progress.bands == 0
