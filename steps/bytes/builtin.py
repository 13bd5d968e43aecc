"""Built-in byte steps. Each works chunk by chunk: memory does not grow with object size.

zlib runs in worker threads under the CPU limiter (it releases the GIL), so compressing one
object never stalls the event loop that moves every other execution's frames.
"""

from __future__ import annotations

import zlib

from pydantic import BaseModel, ConfigDict, Field

from steps.api import StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.errors import InvalidCompressedData

#: zlib ``wbits`` for the gzip container (header and CRC trailer).
GZIP_WBITS = 16 + zlib.MAX_WBITS
#: Upper bound on one output frame of gunzip, so a small compressed chunk cannot inflate
#: into an unbounded buffer (a "zip bomb" stays streamed in bounded frames).
GUNZIP_MAX_FRAME = 1024 * 1024
#: gzip compresses its input in slices of this size and sends each slice's output on, so its
#: output frames (and the channel after it) stay small whatever the input chunk size.
GZIP_SLICE = 1024 * 1024


async def passthrough(ctx: StepContext) -> None:
    """Forward every chunk unchanged."""
    async for chunk in ctx.input:
        await ctx.write(chunk)


class GzipParams(BaseModel):
    """Parameters of ``gzip``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    level: int = Field(default=6, ge=0, le=9, description="zlib compression level 0-9")


async def gzip(ctx: StepContext) -> None:
    """Compress the stream into the gzip format, chunk by chunk."""
    params: GzipParams = ctx.params
    compressor = zlib.compressobj(params.level, zlib.DEFLATED, GZIP_WBITS)
    async for chunk in ctx.input:
        with memoryview(chunk) as view:
            for start in range(0, view.nbytes, GZIP_SLICE):
                piece = view[start : start + GZIP_SLICE]
                compressed = await run_cpu(compressor.compress, piece)
                if compressed:
                    await ctx.write(compressed)
    await ctx.write(await run_cpu(compressor.flush))


async def gunzip(ctx: StepContext) -> None:
    """Decompress a gzip stream, in bounded output frames.

    Any number of concatenated members is accepted (what ``cat a.gz b.gz`` and many log
    shippers write), and zero bytes after a member are skipped, as ``gzip -d`` does.
    """
    decompressor = zlib.decompressobj(GZIP_WBITS)
    inside_member = False
    seen_input = False
    members = 0
    async for chunk in ctx.input:
        data = bytes(chunk)
        seen_input = seen_input or bool(data)
        while True:
            if not inside_member:
                data = data.lstrip(b"\x00")
                if not data:
                    break
                inside_member = True
            try:
                out = await run_cpu(decompressor.decompress, data, GUNZIP_MAX_FRAME)
            except zlib.error as exc:
                raise InvalidCompressedData(f"input is not valid gzip data: {exc}") from None
            if out:
                await ctx.write(out)
            if decompressor.eof:
                inside_member = False
                members += 1
                data = decompressor.unused_data
                decompressor = zlib.decompressobj(GZIP_WBITS)
            else:
                data = decompressor.unconsumed_tail
                # A full frame may leave output inside zlib with no input left: ask again.
                if not data and len(out) < GUNZIP_MAX_FRAME:
                    break
    if not seen_input:
        raise InvalidCompressedData("input is empty: a gzip stream has at least a header")
    if inside_member:
        raise InvalidCompressedData("gzip stream is truncated: it ends inside a member")
    if members == 0:
        raise InvalidCompressedData("input holds only zero bytes, no gzip member")


PASSTHROUGH = StepDefinition(
    name="passthrough", function=passthrough, description="forward every chunk unchanged"
)
GZIP = StepDefinition(
    name="gzip", function=gzip, params_model=GzipParams, description="gzip-compress the stream"
)
GUNZIP = StepDefinition(name="gunzip", function=gunzip, description="decompress a gzip stream")
