"""Bands of a picture being decoded, handed from the decoding thread to the thread that sends them.

The decoding thread is an image workflow's critical path, and each time it takes the GIL back
it may wait behind another thread. So it does as little as it can besides libjpeg's work: it
only says which bands are finished (:meth:`BandFeed.ready`, which never waits). A second thread
copies each band out of the picture being decoded and sends it on (iterating the feed), waiting
for the next stage as long as it must. A finished row is never written again, so it can be
copied while Pillow decodes the rows below it (:meth:`.rows.RowBands.copy`).

The pending bands need no bound: each is two row numbers, and its rows are in the picture being
decoded, which is held whole anyway. A band is copied only when the sending thread is ready to
hand it to the next stage.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

from steps.image.strips import PictureStrip

#: Copies rows ``[top, bottom)`` of the picture being decoded into a strip.
CopyBand = Callable[[int, int], PictureStrip]


class BandFeed:
    """Finished bands of one decoding picture: announced by the decoding thread, copied and
    yielded, in order, to the thread that iterates the feed.

    The decoding thread calls :meth:`start` once banding is possible, :meth:`ready` for each
    finished band and :meth:`close` at the end, with ``failed=True`` if the decode failed:
    iteration then stops without the bands still pending.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: deque[tuple[int, int]] = deque()
        self._copy: CopyBand | None = None
        self._closed = False
        self._failed = False
        #: Bands announced so far.
        self.announced = 0

    def start(self, copy: CopyBand) -> None:
        """Decoding thread: bands may follow; ``copy(top, bottom)`` makes each one's strip."""
        with self._changed:
            self._copy = copy

    def ready(self, top: int, bottom: int) -> None:
        """Decoding thread: rows ``[top, bottom)`` are finished (after :meth:`start`)."""
        with self._changed:
            if self._copy is None:
                raise RuntimeError("BandFeed.ready before start")
            self._pending.append((top, bottom))
            self.announced += 1
            self._changed.notify()

    def close(self, *, failed: bool = False) -> None:
        """Decoding thread: no band follows; with ``failed``, pending bands are dropped."""
        with self._changed:
            self._closed = True
            self._failed = self._failed or failed
            self._changed.notify_all()

    def __iter__(self) -> Iterator[PictureStrip]:
        """Sending thread: each announced band, copied, until the feed is closed."""
        while True:
            with self._changed:
                self._changed.wait_for(lambda: bool(self._pending) or self._closed)
                if self._failed or not self._pending:
                    return
                top, bottom = self._pending.popleft()
                copy = self._copy
            assert copy is not None  # set before the first band is announced
            yield copy(top, bottom)
