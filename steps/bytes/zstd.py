"""``zstd`` and ``unzstd``: Zstandard compression, streamed chunk by chunk.

The codec is Python 3.14's ``compression.zstd`` (``backports.zstd`` before 3.14): its
decompressor takes a ``max_length`` and reports ``eof``, like zlib's, so ``unzstd`` emits
frames of at most :data:`UNZSTD_MAX_FRAME` bytes whatever the ratio (zstd reaches ~32 000:1:
a small chunk could otherwise expand to gigabytes at once) and knows whether the input ended
inside a frame. (The ``zstandard`` package has neither: its ``decompressobj`` returns all the
output of a chunk at once, and its ``stream_reader`` ends quietly on truncated input.)

``zstd {level, threads}`` compresses slice by slice like ``gzip``; ``threads`` > 0 lets zstd
compress on that many threads of its own (0: in the calling worker thread). ``unzstd``
decompresses any number of concatenated frames (``cat a.zst b.zst``), skippable frames
included. Both run the codec in worker threads under the CPU limiter.
"""

from __future__ import annotations

import sys

from pydantic import BaseModel, ConfigDict, Field

from steps.api import StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.errors import InvalidCompressedData

if sys.version_info >= (3, 14):
    from compression import zstd as codec
else:
    from backports import zstd as codec

__all__ = ["UNZSTD", "UNZSTD_MAX_FRAME", "ZSTD", "ZstdParams", "codec"]

#: Largest output frame of ``unzstd``.
UNZSTD_MAX_FRAME = 1024 * 1024
#: ``zstd`` hands its input to the compressor in slices of this size (bounded output frames).
ZSTD_SLICE = 1024 * 1024


class ZstdParams(BaseModel):
    """Parameters of ``zstd``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    level: int = Field(default=3, ge=1, le=22, description="compression level 1-22")
    threads: int = Field(default=0, ge=0, le=64, description="zstd's own compression threads")


async def zstd(ctx: StepContext) -> None:
    """Compress the stream into one Zstandard frame (with a content checksum)."""
    params: ZstdParams = ctx.params
    options: dict[int, int] = {
        codec.CompressionParameter.compression_level: params.level,
        codec.CompressionParameter.checksum_flag: 1,
        codec.CompressionParameter.nb_workers: params.threads,
    }
    compressor = codec.ZstdCompressor(options=options)
    async for chunk in ctx.input:
        with memoryview(chunk) as view:
            for start in range(0, view.nbytes, ZSTD_SLICE):
                compressed = await run_cpu(compressor.compress, view[start : start + ZSTD_SLICE])
                if compressed:
                    await ctx.write(compressed)
    await ctx.write(await run_cpu(compressor.flush))


def _decompress(decompressor: codec.ZstdDecompressor, data: bytes) -> bytes:
    try:
        return decompressor.decompress(data, UNZSTD_MAX_FRAME)
    except codec.ZstdError as exc:
        raise InvalidCompressedData(f"input is not valid zstd data: {exc}") from None


async def unzstd(ctx: StepContext) -> None:
    """Decompress a Zstandard stream (several frames allowed), in bounded output frames."""
    decompressor = codec.ZstdDecompressor()
    inside_frame = False
    seen_input = False
    async for chunk in ctx.input:
        data = bytes(chunk)
        seen_input = seen_input or bool(data)
        while data or (inside_frame and not decompressor.needs_input):
            inside_frame = True
            out = await run_cpu(_decompress, decompressor, data)
            if out:
                await ctx.write(out)
            data = b""
            if decompressor.eof:
                inside_frame = False
                data = decompressor.unused_data
                decompressor = codec.ZstdDecompressor()
    if not seen_input:
        raise InvalidCompressedData("input is empty: a zstd stream has at least a frame header")
    if inside_frame:
        raise InvalidCompressedData("zstd stream is truncated: it ends inside a frame")


ZSTD = StepDefinition(
    name="zstd", function=zstd, params_model=ZstdParams, description="Zstandard-compress the stream"
)
UNZSTD = StepDefinition(name="unzstd", function=unzstd, description="decompress a Zstandard stream")
