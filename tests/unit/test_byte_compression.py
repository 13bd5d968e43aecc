"""zstd/unzstd and gunzip: frames and members cut anywhere, bombs bounded, bad data typed."""

from __future__ import annotations

import gzip as gzip_module
import os
import zlib

import pytest

from bridge import StageFailed
from steps import StepConfigError, StepDefinition, configure_step
from steps.bytes import GUNZIP, UNZSTD, ZSTD
from steps.bytes.zstd import UNZSTD_MAX_FRAME, codec
from steps.errors import InvalidCompressedData
from tests.support.byte_steps import cut_positions, cuts, run_byte_step
from tests.support.fakes import MemorySink

pytestmark = pytest.mark.anyio

TEXT = b"".join(b"line %d of a log that compresses well\n" % i for i in range(400))


async def output(definition: StepDefinition, chunks: list[bytes], **params: object) -> bytes:
    return (await run_byte_step(definition, chunks, params)).output


async def fails(definition: StepDefinition, chunks: list[bytes], needle: str) -> None:
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run_byte_step(definition, chunks, sink=sink)
    assert isinstance(caught.value.error, InvalidCompressedData), caught.value.error
    assert needle in str(caught.value.error)
    assert sink.aborted == 1 and not sink.committed


@pytest.mark.parametrize("params", [{}, {"level": 19}, {"level": 1, "threads": 2}])
async def test_zstd_round_trips_through_unzstd_and_the_zstd_library(
    params: dict[str, object],
) -> None:
    data = TEXT + os.urandom(3000)
    compressed = await output(ZSTD, cuts(data, 100, 5000), **params)
    assert codec.decompress(compressed) == data
    assert await output(UNZSTD, [compressed]) == data


async def test_unzstd_every_cut_of_two_concatenated_frames_and_a_skippable_one() -> None:
    first = codec.compress(TEXT[:5000], level=3)
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"meta"
    second = codec.compress(TEXT[5000:], level=3)
    stream = first + skippable + second
    boundaries = [len(first), len(first) + len(skippable)]
    for position in cut_positions(len(stream), boundaries, window=4, stride=13):
        assert await output(UNZSTD, cuts(stream, position)) == TEXT, position


async def test_unzstd_bomb_is_streamed_in_bounded_frames() -> None:
    bomb = codec.compress(bytes(64 * 1024 * 1024), level=19)
    assert len(bomb) < 64 * 1024
    run = await run_byte_step(UNZSTD, [bomb])
    assert len(run.output) == 64 * 1024 * 1024
    assert max(len(frame) for frame in run.frames) <= UNZSTD_MAX_FRAME


async def test_unzstd_bad_input() -> None:
    good = codec.compress(TEXT, options={codec.CompressionParameter.checksum_flag: 1})
    await fails(UNZSTD, [b""], "empty")
    await fails(UNZSTD, [b"this is not zstd at all"], "not valid zstd")
    await fails(UNZSTD, [good[: len(good) // 2]], "truncated")
    damaged = bytearray(good)
    damaged[len(good) // 2] ^= 0xFF
    await fails(UNZSTD, [bytes(damaged)], "not valid zstd")
    await fails(UNZSTD, [good + b"trailing garbage"], "not valid zstd")


def test_zstd_parameters_are_validated() -> None:
    for params in ({"level": 0}, {"level": 23}, {"threads": -1}, {"window": 1}):
        with pytest.raises(StepConfigError, match="zstd"):
            configure_step(ZSTD, params)


async def test_gunzip_every_cut_of_concatenated_members() -> None:
    first = gzip_module.compress(TEXT[:6000])
    second = gzip_module.compress(TEXT[6000:])
    stream = first + second
    for position in cut_positions(len(stream), [10, len(first) - 8, len(first)], window=10):
        assert await output(GUNZIP, cuts(stream, position)) == TEXT, position


async def test_gunzip_member_ending_in_a_long_match_at_a_frame_limit() -> None:
    data = bytes(5 * 1024 * 1024) + b"end"
    assert await output(GUNZIP, [gzip_module.compress(data)]) == data
    assert await output(GUNZIP, [gzip_module.compress(data), gzip_module.compress(b"!")]) == (
        data + b"!"
    )


async def test_gunzip_skips_zero_padding_after_members_like_gzip_does() -> None:
    padded = gzip_module.compress(TEXT) + bytes(512)
    assert await output(GUNZIP, cuts(padded, len(padded) - 100)) == TEXT


async def test_gunzip_bad_input() -> None:
    good = gzip_module.compress(TEXT)
    await fails(GUNZIP, [b""], "empty")
    await fails(GUNZIP, [bytes(100)], "only zero bytes")
    await fails(GUNZIP, [b"plain text"], "not valid gzip")
    await fails(GUNZIP, [good[:-4]], "truncated")
    await fails(GUNZIP, [good + b"junk"], "not valid gzip")
    raw_deflate = zlib.compress(TEXT)
    await fails(GUNZIP, [raw_deflate], "not valid gzip")
