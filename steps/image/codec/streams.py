"""Blocking file objects over a chunk stream, for Pillow running in a worker thread.

:class:`ChunkReader` is what ``Image.open`` reads: ``read()`` pulls the next chunk through a
``fetch`` callable (in the decode step, ``anyio.from_thread.run`` on the stage input) and blocks
until it arrives, so Pillow decodes while the download goes on.

``Image.open`` needs ``seek``: it seeks to 0 for every format it tries and the JPEG decoder
re-reads the file from byte 0 in ``load()``. So the reader keeps everything it has read while the
header is parsed. For formats that are then read front to back (JPEG, PNG, BMP) the decoder calls
:meth:`ChunkReader.stream`; after the next seek (the one ``load()`` makes to the first tile),
bytes more than :data:`LOOKBACK` behind the read position are released. The reader keeps the
chunks as they came, without copying them into one buffer: a read copies only what it returns,
and a chunk read past keeps only its last look-back window (a copy of at most LOOKBACK bytes).
Appending 2 MiB chunks to one growing buffer made a 24 MP execution ~1000 more page faults
(8.2-9.2 K then, 7.8-8.4 K now) and its decode ~10 ms more CPU. A streamed
decode holds the header (until ``load()`` has re-read it), one look-back window, the chunk
being read and, while a read spans two chunks, the next one — never the whole compressed file.
Formats that need
random access (GIF, animated PNG, WebP and AVIF, whose libraries take the whole file, TIFF) keep
everything: their compressed size is held on top of the decoded picture.

:class:`ChunkWriter` is what ``Image.save`` writes to: it cuts the output into frames of
``chunk_size`` bytes and hands each one to ``emit`` as soon as it is full (in the encode step,
``anyio.from_thread.run(ctx.write, ...)``, which waits while the next stage is behind).
"""

from __future__ import annotations

import bisect
import io
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

#: Bytes kept behind the read position once a reader streams, for small backward seeks.
LOOKBACK = 64 * 1024
#: Output frame size of :class:`ChunkWriter`; baseline JPEG writes buffers of this size too.
CHUNK_SIZE = 64 * 1024
#: First bytes of the input kept for error messages and format sniffing.
PREFIX_BYTES = 32

Fetch = Callable[[], bytes | None]
Emit = Callable[[bytes], None]


class ChunkReader(io.RawIOBase):
    """A blocking, seekable, read-only file over chunks pulled from ``fetch``.

    ``fetch`` returns the next chunk, or None at end of stream. Counters (bytes received, peak
    bytes held, when the end was seen) are public for metrics.
    """

    def __init__(self, fetch: Fetch) -> None:
        super().__init__()
        self._fetch = fetch
        #: The chunks held, in order, and the offset each starts at (the first at ``_base``).
        self._chunks: list[bytes] = []
        self._starts: list[int] = []
        self._held = 0
        self._base = 0
        self._pos = 0
        self._eof = False
        self._stream_after_seek = False
        self._streaming = False
        #: Bytes received from ``fetch`` so far.
        self.bytes_received = 0
        #: The most bytes held at once.
        self.peak_buffered = 0
        #: A read asked for more bytes than the stream holds (the data ended too early).
        self.read_past_end = False
        #: ``time.time()`` when ``fetch`` reported the end of the stream.
        self.ended_at: float | None = None
        #: The first bytes of the stream.
        self.prefix = b""
        self._before_read: Callable[[], None] | None = None

    @classmethod
    def over(cls, chunks: Iterable[bytes]) -> ChunkReader:
        """A reader over an iterable of chunks (tests, local files)."""
        iterator: Iterator[bytes] = iter(chunks)
        return cls(lambda: next(iterator, None))

    def readable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """True: backward seeks work within what the reader still holds."""
        return True

    def tell(self) -> int:
        """The read position."""
        return self._pos

    @property
    def at_end(self) -> bool:
        """True once the end of the stream has been seen."""
        return self._eof

    @property
    def buffered(self) -> int:
        """Bytes held now."""
        return self._held

    def held(self) -> bytes:
        """Everything held now, from the lowest offset still kept."""
        return b"".join(self._chunks)

    def is_empty(self) -> bool:
        """True if the stream holds no byte at all (fetches the first chunk if needed)."""
        self._fill(1)
        return self.bytes_received == 0

    def stream(self) -> None:
        """From the next seek on, release bytes more than LOOKBACK behind the position."""
        self._stream_after_seek = True

    def before_streamed_reads(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` before each read once streaming (after the seek ``load()`` makes
        to the image data), i.e. between two decoder calls; None stops it."""
        self._before_read = callback

    def release(self) -> None:
        """Drop every byte held and stop fetching (decoded frames may still point here)."""
        self._chunks, self._starts = [], []
        self._held = self._base = self._pos = 0
        self._eof = True
        self._fetch = _nothing
        self._before_read = None

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that is left if negative); short only at end of stream."""
        if self._streaming and self._before_read is not None:
            self._before_read()
        if size is None or size < 0:
            self._fill(None)
            stop = self._end()
        else:
            self._fill(self._pos + size)
            stop = min(self._pos + size, self._end())
            if stop < self._pos + size:
                self.read_past_end = True
        if stop <= self._pos:
            return b""
        data = self._slice(self._pos, stop)
        self._pos = stop
        self._trim()
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Read into ``buffer``; returns the number of bytes read."""
        with memoryview(buffer) as view:
            data = self.read(view.nbytes)
            view.cast("B")[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the read position; a position released by streaming cannot be reached."""
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            self._fill(None)
            target = self._end() + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        if target < self._base:
            raise io.UnsupportedOperation(
                f"cannot seek back to byte {target}: bytes before {self._base} were released"
            )
        if self._stream_after_seek:
            self._stream_after_seek = False
            self._streaming = True
        self._pos = target
        self._trim()
        return target

    def _end(self) -> int:
        return self._base + self._held

    def _slice(self, start: int, stop: int) -> bytes:
        """Bytes ``[start, stop)``, all held (found by bisection: a GIF makes many small reads
        while every chunk is held)."""
        pieces: list[bytes] = []
        index = bisect.bisect_right(self._starts, start) - 1
        while index < len(self._chunks):
            chunk, offset = self._chunks[index], self._starts[index]
            pieces.append(chunk[max(0, start - offset) : stop - offset])
            if offset + len(chunk) >= stop:
                break
            index += 1
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _fill(self, upto: int | None) -> None:
        while not self._eof and (upto is None or self._end() < upto):
            chunk = self._fetch()
            if chunk is None:
                self._eof = True
                self.ended_at = time.time()
                return
            if not chunk:
                continue
            if len(self.prefix) < PREFIX_BYTES:
                self.prefix = (self.prefix + chunk[:PREFIX_BYTES])[:PREFIX_BYTES]
            self._starts.append(self._end())
            self._chunks.append(bytes(chunk))
            self._held += len(chunk)
            self.bytes_received += len(chunk)
            self.peak_buffered = max(self.peak_buffered, self._held)
            self._trim()

    def _trim(self) -> None:
        """While streaming: drop what is over LOOKBACK behind the position, chunk by chunk; of
        a chunk read past, keep only its last LOOKBACK bytes (copied once it is that far)."""
        if not self._streaming:
            return
        keep_from = min(self._pos, self._end()) - LOOKBACK
        dropped = 0
        while dropped < len(self._chunks) and self._ends(dropped) <= keep_from:
            dropped += 1
        if dropped:  # a streaming reader holds a few chunks: deleting from the front is cheap
            released_to = self._ends(dropped - 1)
            self._held -= released_to - self._base
            del self._chunks[:dropped], self._starts[:dropped]
            self._base = released_to
        if not self._chunks:
            return
        # Cut only a chunk wholly read, and by at least LOOKBACK: each copy is small.
        cut = keep_from - self._base
        if self._ends(0) <= self._pos and cut >= LOOKBACK:
            self._chunks[0] = self._chunks[0][cut:]
            self._held -= cut
            self._base += cut
            self._starts[0] = self._base

    def _ends(self, index: int) -> int:
        """The offset just after held chunk ``index``."""
        return self._starts[index] + len(self._chunks[index])


def _nothing() -> bytes | None:
    return None


class ChunkWriter(io.RawIOBase):
    """A write-only file that emits its output in ``chunk_size`` frames as they fill up.

    ``flush`` does not emit a partial frame (Pillow flushes after every save); :meth:`finish`
    emits what is left. It has no ``fileno``, so Pillow writes through :meth:`write`.
    """

    def __init__(self, emit: Emit, chunk_size: int = CHUNK_SIZE) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        self._emit = emit
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        #: Bytes accepted so far.
        self.bytes_written = 0
        #: Frames emitted so far.
        self.chunks_emitted = 0

    def writable(self) -> bool:
        """Always True."""
        return True

    def tell(self) -> int:
        """Bytes written so far."""
        return self.bytes_written

    def write(self, data: ReadableBuffer) -> int:
        """Accept ``data``; emit every full frame it completes."""
        with memoryview(data) as view:
            size = view.nbytes
            self._buffer += view.cast("B")
        self.bytes_written += size
        while len(self._buffer) >= self._chunk_size:
            chunk = bytes(self._buffer[: self._chunk_size])
            del self._buffer[: self._chunk_size]
            self._send(chunk)
        return size

    def flush(self) -> None:
        """Nothing: frames are emitted when full, and the rest by :meth:`finish`."""

    def finish(self) -> None:
        """Emit the last, partial frame."""
        if self._buffer:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            self._send(chunk)

    def _send(self, chunk: bytes) -> None:
        self.chunks_emitted += 1
        self._emit(chunk)
