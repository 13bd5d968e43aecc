"""Frames: the values that travel on channels.

A frame is either ``bytes`` (a chunk of an object) or a richer value such as a decoded
picture. Non-bytes frames report their memory footprint through an ``nbytes`` attribute so
that channels can enforce a byte budget and stages can count bytes.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias, runtime_checkable


@runtime_checkable
class SizedFrame(Protocol):
    """A non-bytes frame that knows how much memory it holds."""

    @property
    def nbytes(self) -> int:
        """Approximate bytes of memory held by the frame."""
        ...


Frame: TypeAlias = bytes | bytearray | memoryview | SizedFrame


def frame_size(frame: object) -> int:
    """Bytes a frame holds: its length for byte frames, ``nbytes`` otherwise, else 0."""
    if isinstance(frame, bytes | bytearray):
        return len(frame)
    if isinstance(frame, memoryview):
        return frame.nbytes
    size = getattr(frame, "nbytes", 0)
    return size if isinstance(size, int) else 0
