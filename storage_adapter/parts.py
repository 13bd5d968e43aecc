"""One multipart part as a seekable file over the frames that make it, never joined.

A part of ``part_size`` bytes is usually several frames (gzip's 1 MiB frames, chunks smaller
than a part) or pieces of frames. Joining them into one ``bytes`` would hold the part twice
while the copy is made; :class:`PartBody` instead reads across the frames, as botocore needs
of a request body: ``len()``, ``read(n)`` for the checksum, the SigV4 payload hash and the
socket, ``seek(0)`` before each retry. Frames are held as read-only views, so a part costs
its own bytes and nothing more.
"""

from __future__ import annotations

import io
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer


class PartBody(io.RawIOBase):
    """The bytes of ``pieces`` in order, as a read-only, seekable binary file."""

    def __init__(self, pieces: Iterable[ReadableBuffer]) -> None:
        super().__init__()
        self._pieces = [view for view in map(_byte_view, pieces) if view.nbytes]
        self._starts = [0, *accumulate(view.nbytes for view in self._pieces)]
        self._size = self._starts[-1]
        self._position = 0

    def __len__(self) -> int:
        return self._size

    def readable(self) -> bool:
        """Always: a part is read to be sent."""
        return True

    def seekable(self) -> bool:
        """Always: botocore rewinds the body before a retry."""
        return True

    def tell(self) -> int:
        """The read position."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the read position (clamped to the part); the new position."""
        bases = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}
        if whence not in bases:
            raise ValueError(f"invalid whence {whence!r}")
        base = bases[whence]
        self._position = min(max(base + offset, 0), self._size)
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Copy the next bytes into ``buffer``; how many (0 at the end)."""
        with memoryview(buffer) as target, target.cast("B") as out:
            written = 0
            index = bisect_right(self._starts, self._position) - 1
            while written < out.nbytes and self._position < self._size:
                piece = self._pieces[index]
                offset = self._position - self._starts[index]
                take = min(piece.nbytes - offset, out.nbytes - written)
                out[written : written + take] = piece[offset : offset + take]
                written += take
                self._position += take
                index += 1
            return written

    def read(self, size: int | None = -1) -> bytes:
        """The next ``size`` bytes (the rest when ``size`` is negative or None)."""
        remaining = self._size - self._position
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        index = bisect_right(self._starts, self._position) - 1
        if wanted and index < len(self._pieces):
            piece, offset = self._pieces[index], self._position - self._starts[index]
            if offset + wanted <= piece.nbytes:  # within one piece: one copy, no buffer
                self._position += wanted
                return piece[offset : offset + wanted].tobytes()
        out = bytearray(wanted)
        del out[self.readinto(out) :]
        return bytes(out)

    def readall(self) -> bytes:
        """Every byte from the read position on."""
        return self.read(-1)

    def close(self) -> None:
        """Drop the frames (botocore never closes a body it was given; the writer does)."""
        self._pieces = []
        super().close()


def _byte_view(piece: ReadableBuffer) -> memoryview:
    view = memoryview(piece)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")
