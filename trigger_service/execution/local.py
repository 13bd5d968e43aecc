"""Local files as pipeline ends, so a workflow can be tried without a bucket.

:class:`FileSource` reads a file in chunks in a worker thread. :class:`FileSink` writes into a
temporary file beside the destination and renames it into place only on ``commit``; ``abort``
deletes it, so a failed run leaves no output file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import anyio

from bridge import StageContext

DEFAULT_FILE_CHUNK = 1024 * 1024


class FileSource:
    """Reads ``path`` as chunks of ``chunk_size`` bytes."""

    def __init__(self, path: Path, *, chunk_size: int = DEFAULT_FILE_CHUNK) -> None:
        self.path = path
        self.chunk_size = chunk_size

    async def run(self, ctx: StageContext) -> None:
        """Write the file's chunks downstream."""
        handle: BinaryIO = await anyio.to_thread.run_sync(self.path.open, "rb")
        try:
            while chunk := await anyio.to_thread.run_sync(handle.read, self.chunk_size):
                await ctx.write(chunk)
        finally:
            handle.close()
        ctx.metrics.extra["last_range_read_at"] = ctx.metrics.last_output_at


class FileSink:
    """Writes frames to ``path`` atomically: visible only after ``commit``."""

    name = "write"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._temporary: Path | None = None
        self._handle: BinaryIO | None = None

    async def consume(self, ctx: StageContext) -> None:
        """Append every frame to a temporary file beside the destination."""
        directory = self.path.parent
        descriptor, name = await anyio.to_thread.run_sync(
            lambda: tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=directory)
        )
        self._temporary = Path(name)
        self._handle = os.fdopen(descriptor, "wb")
        async for frame in ctx.input:
            self.size += len(frame)
            await anyio.to_thread.run_sync(self._handle.write, frame)

    async def commit(self) -> int:
        """Flush and move the temporary file into place; returns the size written."""
        if self._handle is None or self._temporary is None:
            raise RuntimeError("commit() before consume()")
        handle, temporary = self._handle, self._temporary
        await anyio.to_thread.run_sync(handle.close)
        await anyio.to_thread.run_sync(temporary.replace, self.path)
        self._handle = self._temporary = None
        return self.size

    async def abort(self) -> None:
        """Delete the temporary file; the destination is left untouched."""
        if self._handle is not None:
            self._handle.close()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
        self._handle = self._temporary = None
