"""Cutting a chunk stream into fixed-size blocks without copying more than a block's tail.

:class:`BlockSplitter` takes chunks of any size and yields blocks of exactly ``size`` bytes;
what is left at the end is :meth:`BlockSplitter.rest`. A block lying inside one input chunk is
a ``memoryview`` of it (no copy); only a block straddling two chunks is assembled, so the
bytes held are at most one block plus the chunk being cut.
"""

from __future__ import annotations

from collections.abc import Iterator

Block = bytes | memoryview


class BlockSplitter:
    """Yields ``size``-byte blocks from fed chunks; keeps the incomplete tail."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError("block size must be positive")
        self.size = size
        self._pending = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole block."""
        return len(self._pending)

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[Block]:
        """The whole blocks ``data`` completes, in order; the tail stays pending."""
        view = memoryview(data).cast("B")
        if self._pending:
            needed = self.size - len(self._pending)
            self._pending += view[:needed]
            view = view[needed:]
            if len(self._pending) < self.size:
                return
            block = bytes(self._pending)
            self._pending.clear()
            yield block
        while len(view) >= self.size:
            yield view[: self.size]
            view = view[self.size :]
        if len(view):
            self._pending += view

    def rest(self) -> bytes:
        """The incomplete tail (fewer than ``size`` bytes), which is then forgotten."""
        tail = bytes(self._pending)
        self._pending.clear()
        return tail
