"""ChunkReader and ChunkWriter: the blocking file objects Pillow reads and writes."""

from __future__ import annotations

import io
import random

import pytest

from steps.image.codec.streams import LOOKBACK, ChunkReader, ChunkWriter


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


DATA = bytes(range(256)) * 2048  # 512 KiB


def test_reads_exactly_across_chunks() -> None:
    reader = ChunkReader.over(chunks_of(DATA, 1000))
    assert reader.read(10) == DATA[:10]
    assert reader.read(2500) == DATA[10:2510]
    assert reader.tell() == 2510
    assert not reader.read_past_end


def test_fetches_only_what_a_read_needs() -> None:
    fetched: list[int] = []
    source = iter(chunks_of(DATA, 1000))

    def fetch() -> bytes | None:
        chunk = next(source, None)
        fetched.append(len(chunk or b""))
        return chunk

    reader = ChunkReader(fetch)
    reader.read(1500)
    assert len(fetched) == 2


def test_short_read_at_the_end_is_recorded() -> None:
    reader = ChunkReader.over([b"abc"])
    assert reader.read(10) == b"abc"
    assert reader.read_past_end
    assert reader.at_end
    assert reader.read(1) == b""


def test_read_all_does_not_count_as_past_the_end() -> None:
    reader = ChunkReader.over(chunks_of(DATA, 4096))
    assert reader.read() == DATA
    assert not reader.read_past_end


def test_seeks_back_to_zero_while_not_streaming() -> None:
    reader = ChunkReader.over(chunks_of(DATA, 1000))
    reader.read(300_000)
    assert reader.seek(0) == 0
    assert reader.read(5) == DATA[:5]
    assert reader.peak_buffered == 300_000


def test_seek_end_and_relative() -> None:
    reader = ChunkReader.over(chunks_of(DATA, 7000))
    assert reader.seek(-10, io.SEEK_END) == len(DATA) - 10
    assert reader.read() == DATA[-10:]
    reader.seek(-20, io.SEEK_CUR)
    assert reader.read(5) == DATA[-20:-15]


def test_streaming_releases_bytes_behind_the_position() -> None:
    reader = ChunkReader.over(chunks_of(DATA, 64 * 1024))
    reader.read(1000)  # "the header"
    reader.stream()
    reader.seek(0)  # load() goes back to the first tile
    assert reader.read(1000) == DATA[:1000]
    while reader.read(64 * 1024):
        assert reader.buffered <= 2 * LOOKBACK + 64 * 1024
    assert reader.peak_buffered <= 2 * LOOKBACK + 2 * 64 * 1024
    with pytest.raises(io.UnsupportedOperation):
        reader.seek(0)


def test_stream_keeps_everything_until_the_next_seek() -> None:
    reader = ChunkReader.over(chunks_of(DATA, 64 * 1024))
    reader.read(400_000)
    reader.stream()
    reader.seek(10)
    assert reader.read(10) == DATA[10:20]


def test_small_backward_seek_within_lookback_works_while_streaming() -> None:
    reader = ChunkReader.over(chunks_of(DATA, 64 * 1024))
    reader.stream()
    reader.seek(0)
    reader.read(300_000)
    reader.seek(300_000 - LOOKBACK // 2)
    assert reader.read(4) == DATA[300_000 - LOOKBACK // 2 : 300_000 - LOOKBACK // 2 + 4]


def test_empty_stream() -> None:
    assert ChunkReader.over([b"", b""]).is_empty()
    assert not ChunkReader.over([b"", b"x"]).is_empty()


def test_prefix_is_kept_for_messages() -> None:
    reader = ChunkReader.over([b"ab", b"cdefghijklmnopqrstuvwxyz0123456789"])
    reader.read()
    assert reader.prefix == b"abcdefghijklmnopqrstuvwxyz012345"


def test_readinto() -> None:
    reader = ChunkReader.over([b"hello", b" world"])
    buffer = bytearray(8)
    assert reader.readinto(buffer) == 8
    assert bytes(buffer) == b"hello wo"


def test_writer_emits_full_chunks_then_the_rest() -> None:
    emitted: list[bytes] = []
    writer = ChunkWriter(emitted.append, chunk_size=10)
    writer.write(b"0123456")
    assert emitted == []
    writer.write(b"789abcdefghijklmnopq")
    assert emitted == [b"0123456789", b"abcdefghij"]
    writer.flush()
    assert len(emitted) == 2
    writer.finish()
    assert emitted[-1] == b"klmnopq"
    assert writer.tell() == writer.bytes_written == 27
    assert writer.chunks_emitted == 3


def test_writer_has_no_fileno() -> None:
    writer = ChunkWriter(lambda chunk: None)
    with pytest.raises(io.UnsupportedOperation):
        writer.fileno()


def test_writer_accepts_memoryview() -> None:
    emitted: list[bytes] = []
    writer = ChunkWriter(emitted.append, chunk_size=4)
    writer.write(memoryview(b"abcdefgh")[2:])
    writer.finish()
    assert b"".join(emitted) == b"cdefgh"


@pytest.mark.parametrize("seed", range(5))
def test_reads_and_seeks_match_a_file_over_any_chunking(seed: int) -> None:
    """Reads of every size across uneven chunks, and seeks anywhere while nothing is released,
    return what a file of the same bytes returns."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(DATA)), 300))
    chunks = [DATA[a:b] for a, b in zip([0, *cuts], [*cuts, len(DATA)], strict=True)]
    reader, reference = ChunkReader.over(chunks), io.BytesIO(DATA)
    for _ in range(2000):
        if rng.random() < 0.2:
            target = rng.randrange(len(DATA))
            assert reader.seek(target) == reference.seek(target)
        size = rng.choice([1, 7, 255, 4096, 70_000])
        assert reader.read(size) == reference.read(size)


def test_streaming_reads_match_a_file_with_small_backward_seeks() -> None:
    rng = random.Random(7)
    reader, reference = ChunkReader.over(chunks_of(DATA, 50_000)), io.BytesIO(DATA)
    reader.stream()
    reader.seek(0)
    reference.seek(0)
    furthest = 0
    while data := reader.read(rng.choice([100, 30_000, 90_000])):
        assert data == reference.read(len(data))
        furthest = max(furthest, reader.tell())
        back = furthest - rng.randrange(LOOKBACK // 2)  # within the look-back of the furthest read
        assert reader.seek(back) == reference.seek(back)
        assert reader.buffered <= LOOKBACK + 3 * 50_000
