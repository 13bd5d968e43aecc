"""Bands of finished rows while Pillow decodes a JPEG, so the next step starts on the first rows.

Pillow decodes a JPEG top to bottom into one image and calls ``read`` on the input for more data
after each decoder call (``ImageFile.load``). It keeps no row counter one can read, so
:class:`RowBands` tells finished rows from the pixels: the image memory starts zeroed
(``load_prepare``), and Pillow stores an RGB pixel in four bytes, the fourth set to 255 as each
row is unpacked. Rows are written in order, so a band whose last row's last pixel has that byte
set is finished. :meth:`RowBands.poll` runs between decoder calls, in the decoding thread, so it
never looks at a row being written. It only says which bands are finished; copying a band
(:meth:`RowBands.copy`) is left to the thread that sends it on (:mod:`.band_feed`): a finished
row is never written again, so it can be copied while Pillow decodes the rows below it.

Before the first decoder call every row that will be probed is checked to be still zero; if one
is not (a Pillow that reuses memory without clearing it), no band is handed out and the picture
goes on whole once decoded. Only RGB images qualify: other modes have no spare byte to watch.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

#: Value Pillow stores in the fourth byte of every decoded RGB pixel.
_DECODED = 255

#: Called, in the decoding thread, with the first row and the end row of each finished band.
BandReady = Callable[[int, int], None]


def watchable(image: Image.Image) -> bool:
    """True for an image whose decoded rows :class:`RowBands` can tell (RGB, one tile)."""
    tile = getattr(image, "tile", None)
    return image.mode == "RGB" and tile is not None and len(tile) == 1


class RowBands:
    """Says, band by band of ``rows`` rows, which rows of ``image`` Pillow has finished decoding.

    ``ready`` gets each finished band's ``[top, bottom)``, in order, from the thread that
    decodes. Call :meth:`poll` between decoder calls, once ``load()`` has allocated the image
    memory (from the first read after its seek to the data), and :meth:`finish` after
    ``load()``.
    """

    def __init__(self, image: Image.Image, rows: int, ready: BandReady) -> None:
        if rows < 1:
            raise ValueError(f"a band holds at least one row, not {rows}")
        self._image = image
        self._rows = rows
        self._ready = ready
        self._checked = False
        self._usable = False
        #: Rows handed out so far (the next band starts here).
        self.sent_rows = 0
        #: Bands found finished so far.
        self.bands = 0

    @property
    def started(self) -> bool:
        """True once a band was handed out."""
        return self.bands > 0

    def poll(self) -> None:
        """Hand out every band Pillow has finished since the last call."""
        if not self._checked:
            self._checked = True
            self._usable = all(not self._finished(bottom) for bottom in self._band_ends())
        if not self._usable:
            return
        height = self._image.height
        while self.sent_rows < height:
            bottom = min(self.sent_rows + self._rows, height)
            if not self._finished(bottom):
                return
            self._send(bottom)

    def finish(self) -> None:
        """After ``load()``: hand out the rows left, if any band went out already.

        If none did, the caller sends the decoded picture as usual (whole, without a copy).
        """
        height = self._image.height
        while self.started and self.sent_rows < height:
            self._send(min(self.sent_rows + self._rows, height))

    def _band_ends(self) -> list[int]:
        height = self._image.height
        return [*range(self._rows, height, self._rows), height]

    def _finished(self, bottom: int) -> bool:
        """Whether row ``bottom - 1`` has been unpacked (its last pixel's fourth byte set)."""
        width = self._image.width
        pixel = self._copy((width - 1, bottom - 1, width, bottom))
        return pixel.tobytes("raw", "RGBX")[3] == _DECODED

    def copy(self, top: int, bottom: int) -> Image.Image:
        """A copy of the finished rows ``[top, bottom)``; safe from any thread while Pillow
        decodes the rows below them (the copy releases the GIL)."""
        return self._copy((0, top, self._image.width, bottom))

    def _send(self, bottom: int) -> None:
        top = self.sent_rows
        self.sent_rows, self.bands = bottom, self.bands + 1
        self._ready(top, bottom)

    def _copy(self, box: tuple[int, int, int, int]) -> Image.Image:
        """A copy of ``box`` of the image being decoded, through its core image: ``crop()``
        would call ``load()`` again in the middle of ``load()``."""
        return self._image._new(self._image.im.crop(box))
