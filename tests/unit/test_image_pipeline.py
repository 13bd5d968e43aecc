"""Image steps through the real pipeline runner: planned decode/encode, overlap, failures."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

import steps
from bridge import PipelineResult, Stage, StageContext, StageFailed, run_pipeline
from steps.errors import EmptyInput, ImageTooLarge, InvalidImage, TruncatedImage
from steps.image.codec.decode import JPEG_READ_SIZE, decode_overlap
from steps.image.codec.streams import CHUNK_SIZE, LOOKBACK
from steps.image.strips import strip_rows
from tests.support.fakes import MemorySink
from tests.support.images import encode, noise, open_bytes, png_declaring

pytestmark = pytest.mark.anyio

LOG = logging.LoggerAdapter(logging.getLogger("tests.image"), {"execution": "test"})


@dataclass
class ChunkSource:
    """Writes ``data`` in 64 KiB chunks, optionally pausing between them (a download)."""

    data: bytes
    delay: float = 0.0
    sent: int = 0
    wait_for: anyio.Event | None = None
    started: anyio.Event = field(default_factory=anyio.Event)

    def stage(self) -> Stage:
        async def source(ctx: StageContext) -> None:
            for start in range(0, len(self.data), CHUNK_SIZE):
                await ctx.write(self.data[start : start + CHUNK_SIZE])
                self.sent += 1
                self.started.set()
                if self.wait_for is not None:
                    await self.wait_for.wait()
                if self.delay:
                    await anyio.sleep(self.delay)

        return Stage("source", source)


def planned(step_list: Sequence[tuple[str, dict[str, Any]]]) -> list[steps.ConfiguredStep]:
    registry = steps.default_registry()
    return steps.plan_steps([steps.configure_step(registry.resolve(n), p) for n, p in step_list])


async def run(
    source: ChunkSource, step_list: Sequence[tuple[str, dict[str, Any]]], sink: MemorySink
) -> PipelineResult[bytes]:
    configured = [await steps.prepare_step(step, loader=None) for step in planned(step_list)]  # type: ignore[arg-type]
    stages = [source.stage()] + [steps.to_stage(step, LOG) for step in configured]
    with anyio.fail_after(30):
        return await run_pipeline(stages, sink)


PHOTO_STEPS = [
    ("compress", {"max_width": 800, "max_height": 800, "format": "jpeg", "quality": 90}),
    ("watermark", {"text": "© Example", "position": "bottom-right", "opacity": 0.5}),
]


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A 2400 × 1600 JPEG of about 2 MB (several dozen chunks)."""
    return encode(noise((2400, 1600)), "JPEG", quality=85)


def test_plan_decodes_once_and_encodes_once() -> None:
    labels = [step.label for step in planned(PHOTO_STEPS)]
    assert labels == ["decode", "compress", "watermark", "encode"]
    decode = planned(PHOTO_STEPS)[0]
    assert decode.params.target_size == (800, 800)  # type: ignore[attr-defined]


async def test_photo_through_the_pipeline(photo: bytes) -> None:
    sink = MemorySink()
    result = await run(ChunkSource(photo), PHOTO_STEPS, sink)
    assert sink.committed and not sink.aborted
    out = open_bytes(result.output)
    assert out.format == "JPEG" and out.size == (800, 533)
    names = [metrics.name for metrics in result.stages]
    assert names == ["source", "decode", "compress", "watermark", "encode", "sink"]
    by_name = {metrics.name: metrics for metrics in result.stages}
    # decoded once (at 3/8: 900×600 RGB), handed to compress in bands of rows while it decoded
    extra = by_name["decode"].extra
    assert (extra["decode_decoded_width"], extra["decode_decoded_height"]) == (900, 600)
    bands = extra["decode_bands"]
    assert bands == -(-600 // strip_rows(900, 4)) > 1
    assert by_name["decode"].frames_out == by_name["compress"].frames_in == bands
    # 800×533 out of compress in strips of 432 rows; watermark passes each strip on
    assert by_name["compress"].frames_out == by_name["watermark"].frames_out == 2
    assert by_name["encode"].frames_in == 2
    assert (extra["decode_declared_width"], extra["decode_declared_height"]) == (2400, 1600)
    # two look-back windows, one read of the decoder and one chunk: never the whole file
    assert extra["decode_peak_buffered_bytes"] <= 2 * LOOKBACK + JPEG_READ_SIZE + CHUNK_SIZE
    assert by_name["encode"].extra["encode_format"] == "JPEG"


async def test_decode_overlaps_the_download_and_upload_overlaps_encode(photo: bytes) -> None:
    sink = MemorySink()
    source = ChunkSource(photo, delay=0.005)
    steps_list = [("compress", {"max_width": 2400, "format": "jpeg", "quality": 95})]
    result = await run(source, steps_list, sink)
    by_name = {metrics.name: metrics for metrics in result.stages}
    download_done = by_name["source"].last_output_at
    assert download_done is not None
    decode = by_name["decode"]
    assert decode.extra["decode_header_bytes"] <= 2 * CHUNK_SIZE  # size known from the start
    assert decode.extra["decode_load_started_at"] < download_done
    overlap = decode_overlap(decode, download_done)
    assert overlap is not None and overlap > 0.5
    encode_metrics, sink_metrics = by_name["encode"], by_name["sink"]
    assert encode_metrics.frames_out > 3
    assert sink_metrics.first_input_at is not None and encode_metrics.finished_at is not None
    assert sink_metrics.first_input_at < encode_metrics.finished_at  # upload began mid-encode


async def test_image_steps_then_a_byte_step(photo: bytes) -> None:
    sink = MemorySink()
    step_list = [("rotate", {"angle": 90}), ("gzip", {})]
    assert [s.label for s in planned(step_list)] == ["decode", "rotate", "encode", "gzip"]
    result = await run(ChunkSource(photo), step_list, sink)
    assert open_bytes(gzip.decompress(result.output)).size == (1600, 2400)


async def test_png_keeps_its_format(photo: bytes) -> None:
    data = encode(open_bytes(photo).resize((300, 200)), "PNG")
    sink = MemorySink()
    result = await run(ChunkSource(data), [("compress", {"max_width": 100})], sink)
    out = open_bytes(result.output)
    assert (out.format, out.size) == ("PNG", (100, 67))


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", EmptyInput),
        (b"this is not an image at all" * 100, InvalidImage),
        (encode(noise((600, 400)), "JPEG")[:20_000], TruncatedImage),
    ],
    ids=["empty", "not-an-image", "truncated"],
)
async def test_bad_image_fails_the_pipeline_and_aborts(data: bytes, error: type[Exception]) -> None:
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run(ChunkSource(data), PHOTO_STEPS, sink)
    assert type(caught.value.error) is error
    assert caught.value.stage == "decode"
    assert sink.aborted and not sink.committed


async def test_bomb_stops_the_download_early() -> None:
    data = png_declaring(100_000, 100_000) + bytes(200 * CHUNK_SIZE)
    source = ChunkSource(data)
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run(source, PHOTO_STEPS, sink)
    assert isinstance(caught.value.error, ImageTooLarge)
    assert source.sent < 10  # of 201 chunks
    assert sink.aborted and not sink.committed


async def test_waiting_decode_does_not_hold_a_cpu_token(
    monkeypatch: pytest.MonkeyPatch, photo: bytes
) -> None:
    """With one CPU token, a decode stalled on its download must not block another pipeline."""
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    stall = anyio.Event()
    stalled = ChunkSource(photo, wait_for=stall)
    results: list[bytes] = []

    async def stalled_run() -> None:
        results.append((await run(stalled, PHOTO_STEPS, MemorySink())).output)

    async with anyio.create_task_group() as group:
        group.start_soon(stalled_run)
        await stalled.started.wait()
        fast = await run(ChunkSource(photo), PHOTO_STEPS, MemorySink())
        assert open_bytes(fast.output).size == (800, 533)
        stall.set()
    assert open_bytes(results[0]).size == (800, 533)


async def test_failure_downstream_cancels_a_decode_waiting_for_input(photo: bytes) -> None:
    @dataclass
    class FailingSink(MemorySink):
        async def consume(self, ctx: StageContext) -> None:
            raise RuntimeError("storage is gone")

    stall = anyio.Event()  # never set: the download hangs after its first chunk
    sink = FailingSink()
    with anyio.fail_after(5), pytest.raises(StageFailed) as caught:
        await run(ChunkSource(photo, wait_for=stall), PHOTO_STEPS, sink)
    assert caught.value.stage == "sink"
    assert sink.aborted and not sink.committed
