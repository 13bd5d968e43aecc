"""Bands of rows sent on while a JPEG decodes: the same pixels, sooner, and nothing half-done."""

from __future__ import annotations

import io

import anyio
import pytest
from PIL import Image, ImageChops

import steps
from bridge import Stage, StageContext, StageFailed, run_pipeline
from steps.errors import TruncatedImage
from steps.image import DecodeParams, PictureStrip, decode_bytes
from steps.image.codec.band_feed import BandFeed
from steps.image.codec.decode import DecodeProgress, decode_stream
from steps.image.codec.rows import RowBands, watchable
from steps.image.codec.streams import CHUNK_SIZE, ChunkReader
from steps.image.strips import StripAssembler, strip_rows
from tests.support.fakes import MemorySink
from tests.support.images import encode, noise, open_bytes, oriented_jpeg
from tests.unit.test_image_pipeline import LOG, PHOTO_STEPS, ChunkSource, planned, run


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]


def decode_in_bands(
    data: bytes, params: DecodeParams | None = None
) -> tuple[list[PictureStrip], DecodeProgress, Image.Image]:
    """Decode ``data`` with bands collected; also returns the image the decoder filled."""
    feed = BandFeed()
    progress = DecodeProgress()
    picture = decode_stream(
        ChunkReader.over(chunks(data)), params or DecodeParams(), progress, feed
    )
    return list(feed), progress, picture.image


def joined(strips: list[PictureStrip]) -> Image.Image:
    assembler = StripAssembler()
    whole = None
    for strip in strips:
        whole = assembler.add(strip)
    assert whole is not None, "the bands did not end the picture"
    return whole.image


@pytest.mark.parametrize(
    "size", [(640, 1000), (601, 1397), (1203, 700), (2000, 301)], ids=lambda s: f"{s[0]}x{s[1]}"
)
def test_bands_hold_exactly_the_decoded_pixels(size: tuple[int, int]) -> None:
    data = encode(noise(size), "JPEG", quality=92)
    sent, progress, _ = decode_in_bands(data)
    reference = decode_bytes(data).image
    rows = strip_rows(size[0], 4)
    assert progress.bands == len(sent) == -(-size[1] // rows)
    assert [strip.top for strip in sent] == list(range(0, size[1], rows))
    assert all(strip.size == size for strip in sent)
    assert ImageChops.difference(joined(sent), reference).getbbox() is None


def test_bands_leave_while_the_data_still_arrives() -> None:
    data = encode(noise((1600, 1200)), "JPEG", quality=95)
    received_at_band: list[int] = []
    reader = ChunkReader.over(chunks(data))

    class Watched(BandFeed):
        def ready(self, top: int, bottom: int) -> None:
            received_at_band.append(reader.bytes_received)
            super().ready(top, bottom)

    decode_stream(reader, DecodeParams(), DecodeProgress(), Watched())
    assert len(received_at_band) > 4
    # the first band went out when a fraction of the file had arrived, the last near the end
    assert received_at_band[0] < len(data) / 4
    assert received_at_band == sorted(received_at_band)


def test_bands_carry_the_picture_metadata() -> None:
    icc = b"\x00" * 128 + b"fake-icc"
    data = encode(noise((300, 3000)), "JPEG", icc_profile=icc)
    sent, _, _ = decode_in_bands(data, DecodeParams(metadata="keep"))
    assert len(sent) > 1
    for strip in sent:
        assert strip.picture.icc_profile == icc
        assert strip.picture.source_format == "JPEG"
        assert strip.picture.source_size == (300, 3000)
        assert strip.picture.orientation == 1
        assert "icc_profile" not in strip.frames[0].info  # metadata travels in the Picture


def test_shrunk_on_load_bands_match_the_shrunk_picture() -> None:
    data = encode(noise((3200, 2400)), "JPEG")
    params = DecodeParams(target_size=(1200, 1200))  # 3/8: 1200 × 900, in bands of 208 rows
    sent, progress, _ = decode_in_bands(data, params)
    assert progress.bands == len(sent) > 1
    reference = decode_bytes(data, params).image
    assert reference.size == (1200, 900) and sent[0].size == reference.size
    assert ImageChops.difference(joined(sent), reference).getbbox() is None


@pytest.mark.parametrize(
    "data",
    [
        encode(noise((800, 2400), "L"), "JPEG"),
        encode(noise((800, 2400)), "PNG"),
        oriented_jpeg(6, (800, 2400)),
    ],
    ids=["grayscale", "png", "rotated-exif"],
)
def test_pictures_that_cannot_be_banded_decode_whole(data: bytes) -> None:
    sent, progress, _ = decode_in_bands(data)
    assert sent == [] and progress.bands == 0


def test_a_picture_of_one_band_decodes_whole() -> None:
    data = encode(noise((640, 300)), "JPEG")  # 300 rows, under one band of 400
    sent, progress, _ = decode_in_bands(data)
    assert sent == [] and progress.bands == 0


def test_a_progressive_jpeg_decodes_whole() -> None:
    """libjpeg hands out no row of a progressive JPEG before the last scan is read."""
    data = encode(noise((500, 2400)), "JPEG", progressive=True)
    sent, progress, image = decode_in_bands(data)
    assert sent == [] and progress.bands == 0
    assert image.size == (500, 2400)


def test_rows_already_set_before_decoding_turn_banding_off() -> None:
    """If the image memory were not cleared, no row could be trusted: nothing is sent early."""
    image = Image.new("RGB", (40, 100), (1, 2, 3))  # every pixel's fourth byte already 255
    sent: list[tuple[int, int]] = []
    bands = RowBands(image, 16, lambda top, bottom: sent.append((top, bottom - top)))
    bands.poll()
    bands.finish()
    assert sent == [] and not bands.started


def test_poll_sends_only_finished_bands() -> None:
    image = Image.new("RGB", (40, 100))  # zeroed, as Pillow allocates a picture to decode into
    sent: list[tuple[int, int]] = []
    bands = RowBands(image, 32, lambda top, bottom: sent.append((top, bottom - top)))
    bands.poll()
    assert sent == []
    image.paste((9, 9, 9), (0, 0, 40, 70))  # rows 0-69 "decoded"
    bands.poll()
    assert sent == [(0, 32), (32, 32)]
    image.paste((9, 9, 9), (0, 70, 40, 100))
    bands.poll()
    bands.finish()
    assert sent == [(0, 32), (32, 32), (64, 32), (96, 4)]


def test_finish_sends_the_rest_once_banding_started() -> None:
    image = Image.new("RGB", (40, 100))
    sent: list[tuple[int, int]] = []
    bands = RowBands(image, 32, lambda top, bottom: sent.append((top, bottom - top)))
    bands.poll()
    image.paste((9, 9, 9), (0, 0, 40, 40))
    bands.poll()
    image.paste((9, 9, 9), (0, 40, 40, 100))
    bands.finish()  # load() ended: every row is decoded
    assert sent == [(0, 32), (32, 32), (64, 32), (96, 4)]


def test_watchable_needs_an_rgb_image_with_one_tile() -> None:
    rgb = Image.open(io.BytesIO(encode(noise((50, 40)), "JPEG")))
    gray = Image.open(io.BytesIO(encode(noise((50, 40), "L"), "JPEG")))
    assert watchable(rgb) and not watchable(gray)
    rgb.load()
    assert not watchable(rgb)  # loaded: no tile left to decode


@pytest.mark.anyio
async def test_a_jpeg_cut_short_after_some_bands_fails_and_writes_nothing() -> None:
    data = encode(noise((1600, 1200)), "JPEG", quality=95)
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run(ChunkSource(data[: len(data) * 2 // 3]), PHOTO_STEPS, sink)
    assert type(caught.value.error) is TruncatedImage
    assert caught.value.stage == "decode"
    assert sink.aborted and not sink.committed


@pytest.mark.anyio
async def test_compress_sends_a_strip_before_the_last_byte_reaches_decode() -> None:
    """The source holds back the file's last chunks until a strip has come out of compress:
    that can only happen if decode hands out rows before the picture is complete."""
    data = encode(noise((2400, 1800)), "JPEG", quality=95)
    held_back = len(data) - 4 * CHUNK_SIZE
    first_strip = anyio.Event()

    async def source(ctx: StageContext) -> None:
        for start in range(0, held_back, CHUNK_SIZE):
            await ctx.write(data[start : min(start + CHUNK_SIZE, held_back)])
        await first_strip.wait()
        for start in range(held_back, len(data), CHUNK_SIZE):
            await ctx.write(data[start : start + CHUNK_SIZE])

    async def tap(ctx: StageContext) -> None:  # between compress and watermark
        async for frame in ctx.input:
            first_strip.set()
            await ctx.write(frame)

    configured = [await steps.prepare_step(s, loader=None) for s in planned(PHOTO_STEPS)]  # type: ignore[arg-type]
    stages = [Stage("source", source)] + [steps.to_stage(step, LOG) for step in configured]
    stages.insert([stage.name for stage in stages].index("compress") + 1, Stage("tap", tap))
    with anyio.fail_after(30):
        result = await run_pipeline(stages, MemorySink())
    by_name = {metrics.name: metrics for metrics in result.stages}
    decode, compress = by_name["decode"], by_name["compress"]
    assert decode.extra["decode_bands"] > 1
    assert compress.first_output_at is not None
    assert compress.first_output_at < decode.extra["decode_load_finished_at"]
    assert open_bytes(result.output).size == (800, 600)
