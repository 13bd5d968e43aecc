"""``zstd`` and ``unzstd``: Zstandard compression with the ``zstandard`` package, streamed.

``zstd {level, threads}`` compresses slice by slice like ``gzip`` (``threads`` > 0 lets zstd
compress on that many threads of its own; ``-1`` means one per core). ``unzstd`` decompresses
any number of concatenated frames (what ``zstd`` writes for each call, and ``cat a.zst b.zst``),
skippable frames included. Decompression runs in one worker thread that pulls compressed chunks
from the stage input and pushes output frames of at most :data:`UNZSTD_MAX_FRAME` bytes: a
small compressed chunk can expand to gigabytes (zstd's ratio reaches ~32 000:1), and this keeps
such an object streamed in bounded frames. The thread gives its CPU token back while it waits
for input or for the next stage.
"""

from __future__ import annotations

from typing import IO, cast

import anyio
import anyio.from_thread
import anyio.to_thread
import zstandard
from pydantic import BaseModel, ConfigDict, Field

from steps.api import StepContext, StepDefinition
from steps.cpu import CpuGate, run_cpu
from steps.errors import InvalidCompressedData

#: Largest output frame of ``unzstd``.
UNZSTD_MAX_FRAME = 1024 * 1024
#: ``zstd`` hands its input to the compressor in slices of this size (bounded output frames).
ZSTD_SLICE = 1024 * 1024


class ZstdParams(BaseModel):
    """Parameters of ``zstd``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    level: int = Field(default=3, ge=1, le=22, description="compression level 1-22")
    threads: int = Field(
        default=0, ge=-1, le=64, description="compression threads; 0 none, -1 one per core"
    )


async def zstd(ctx: StepContext) -> None:
    """Compress the stream into one Zstandard frame."""
    params: ZstdParams = ctx.params
    compressor = zstandard.ZstdCompressor(
        level=params.level, threads=params.threads, write_checksum=True
    ).compressobj()
    async for chunk in ctx.input:
        with memoryview(chunk) as view:
            for start in range(0, view.nbytes, ZSTD_SLICE):
                compressed = await run_cpu(compressor.compress, view[start : start + ZSTD_SLICE])
                if compressed:
                    await ctx.write(compressed)
    await ctx.write(await run_cpu(compressor.flush))


class _ChannelSource:
    """A blocking ``read()`` over the stage input, for the decompressor in a worker thread."""

    def __init__(self, ctx: StepContext, gate: CpuGate) -> None:
        self._ctx = ctx
        self._gate = gate
        self._pending = memoryview(b"")
        self.received = 0

    async def _next(self) -> bytes | None:
        try:
            frame = await anext(self._ctx.input)
        except StopAsyncIteration:
            return None
        return bytes(frame)

    def read(self, size: int = -1) -> bytes:
        while not self._pending:
            with self._gate.waiting():
                chunk = anyio.from_thread.run(self._next)
            if chunk is None:
                return b""
            self.received += len(chunk)
            self._pending = memoryview(chunk)
        if size < 0:
            size = len(self._pending)
        piece, self._pending = self._pending[:size], self._pending[size:]
        return bytes(piece)


def _decompress_all(ctx: StepContext, gate: CpuGate, source: _ChannelSource) -> None:
    reader = zstandard.ZstdDecompressor().stream_reader(
        cast(IO[bytes], source), read_size=256 * 1024, read_across_frames=True, closefd=False
    )
    while True:
        try:
            out = reader.read(UNZSTD_MAX_FRAME)
        except zstandard.ZstdError as exc:
            raise InvalidCompressedData(f"input is not valid zstd data: {exc}") from None
        if not out:
            return
        with gate.waiting():
            anyio.from_thread.run(ctx.write, out)


async def unzstd(ctx: StepContext) -> None:
    """Decompress a Zstandard stream (several frames allowed), in bounded output frames."""
    gate = CpuGate()
    source = _ChannelSource(ctx, gate)
    async with gate:
        await anyio.to_thread.run_sync(_decompress_all, ctx, gate, source)
    if source.received == 0:
        raise InvalidCompressedData("input is empty: a zstd stream has at least a frame header")


ZSTD = StepDefinition(
    name="zstd",
    function=zstd,
    params_model=ZstdParams,
    description="Zstandard-compress the stream",
)
UNZSTD = StepDefinition(name="unzstd", function=unzstd, description="decompress a Zstandard stream")
