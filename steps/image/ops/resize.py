"""Resizing a picture strip by strip, with the same result as resizing it whole.

Pillow resamples in two separable passes; output row ``y`` of a resize from ``H`` to ``h`` rows
is a weighted sum of source rows around ``center = (y + 0.5) × H / h``, over the filter's
support (``support × max(H / h, 1)`` rows on each side), clamped to the image
(``precompute_coeffs`` in Pillow's ``Resample.c``). ``Image.resize(size, box=...)`` takes the
source region as floats and computes the same centers from it, and the weights use only rows
inside that support. So output rows ``[r0, r1)`` are computed exactly from a *window* of the
source rows their supports cover: :meth:`ResizePlan.rows_needed` says which, and
:meth:`ResizePlan.resize_window` resizes the window with the box shifted to the window's origin.
The only difference from a whole-picture resize is the float rounding of the box (Pillow keeps
it as 32-bit floats), which moves a weight by about 1e-6: at most 1 in 8-bit output.

The two passes are made as two calls, horizontal then vertical, for strips and whole pictures
alike: Pillow 13 may otherwise pick the order by cost, which differs between a strip and the
whole picture, and the intermediate rounding and clipping would then differ too. The horizontal
pass treats each row on its own, so a :class:`WindowJob` runs it over bands of the window's
rows (at most :data:`BAND_BYTES` each) and joins the results: however wide the picture and
however tall the window, a job copies at most one band of source rows at a time.

``reducing_gap`` (a first integer ``reduce()`` when shrinking a lot) is reproduced too: the
factor is the one Pillow picks for the whole picture, and windows start on a multiple of it so
that the reduced blocks are the same blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from steps.image.strips import pixel_bytes

#: Pillow's filter supports, in source pixels at scale 1 (``Image._filters_support``).
FILTER_SUPPORT: dict[Image.Resampling, float] = {
    Image.Resampling.NEAREST: 1.0,
    Image.Resampling.BOX: 0.5,
    Image.Resampling.BILINEAR: 1.0,
    Image.Resampling.HAMMING: 1.0,
    Image.Resampling.BICUBIC: 2.0,
    Image.Resampling.LANCZOS: 3.0,
}
#: Rows added on each side of a window, beyond the support, for float rounding.
WINDOW_MARGIN = 2
#: Most source rows a resize job copies at a time for the horizontal pass, in bytes. Each band
#: costs one more Pillow call, which recomputes the filter weights of the whole row (~1 ms for
#: 2048 Lanczos outputs): smaller bands save little memory for much CPU.
BAND_BYTES = 4 * 1024 * 1024
_PREMULTIPLIED = {"LA": "La", "RGBA": "RGBa"}


@dataclass(frozen=True)
class ResizePlan:
    """How a picture of ``source`` size is resized to ``target`` with ``resample``."""

    source: tuple[int, int]
    target: tuple[int, int]
    resample: Image.Resampling
    #: Integer pre-reduction (x, y), as Pillow's ``reducing_gap`` picks it; (1, 1) for none.
    factor: tuple[int, int] = (1, 1)

    @classmethod
    def make(
        cls,
        source: tuple[int, int],
        target: tuple[int, int],
        resample: Image.Resampling,
        reducing_gap: float | None,
    ) -> ResizePlan:
        """The plan Pillow follows for ``Image.resize(target, resample, reducing_gap=...)``."""
        factor = (1, 1)
        if reducing_gap is not None and resample != Image.Resampling.NEAREST:
            factor = (
                int(source[0] / target[0] / reducing_gap) or 1,
                int(source[1] / target[1] / reducing_gap) or 1,
            )
        return cls(source, target, resample, factor)

    @property
    def reduced(self) -> tuple[int, int]:
        """Size after the integer reduction (the source size when there is none)."""
        return (-(-self.source[0] // self.factor[0]), -(-self.source[1] // self.factor[1]))

    @property
    def scale_y(self) -> float:
        """Reduced source rows per output row."""
        return self.source[1] / self.factor[1] / self.target[1]

    def rows_needed(self, top: int, bottom: int) -> tuple[int, int]:
        """Source rows ``[a, b)`` that output rows ``[top, bottom)`` are computed from.

        ``a`` is a multiple of the reduction factor, so a window starting there reduces to the
        same blocks as the whole picture.
        """
        if self.resample == Image.Resampling.NEAREST:
            picks = self.nearest_sources()[top:bottom]
            return min(picks), max(picks) + 1
        scale = self.scale_y
        support = FILTER_SUPPORT[self.resample] * max(scale, 1.0)
        first = (top + 0.5) * scale - support
        last = (bottom - 0.5) * scale + support
        reduced_top = max(0, math.floor(first) - WINDOW_MARGIN)
        reduced_bottom = min(self.reduced[1], math.ceil(last) + WINDOW_MARGIN)
        fy = self.factor[1]
        return reduced_top * fy, min(self.source[1], reduced_bottom * fy)

    def resize_window(
        self, window: Image.Image, window_top: int, top: int, bottom: int
    ) -> Image.Image:
        """Output rows ``[top, bottom)`` from ``window``, the source rows from ``window_top``.

        The window must hold at least :meth:`rows_needed`; with a reduction, ``window_top``
        must be a multiple of the factor.
        """
        passed = self.horizontal(window, window_top)
        return self.vertical(passed, window.mode, window_top, top, bottom)

    def horizontal(self, rows: Image.Image, rows_top: int) -> Image.Image:
        """The first pass over source rows from ``rows_top``: premultiplied, reduced, resized
        to the target width (each row on its own, so bands of rows may be passed one by one).

        With a reduction, ``rows_top`` must be a multiple of the factor, and so must the band's
        height unless it ends the picture.
        """
        fx, fy = self.factor
        if rows_top % fy:
            raise ValueError(f"window top {rows_top} is not a multiple of the factor {fy}")
        image = rows
        if self.resample != Image.Resampling.NEAREST and rows.mode in _PREMULTIPLIED:
            image = image.convert(_PREMULTIPLIED[rows.mode])
        if (fx, fy) != (1, 1):
            image = image.reduce((fx, fy))
        width = self.source[0] / fx
        if image.width != self.target[0] or width != image.width:
            # Horizontal pass alone: the height and the vertical box are unchanged.
            image = image.resize(
                (self.target[0], image.height), self.resample, box=(0.0, 0.0, width, image.height)
            )
        return image

    def vertical(
        self, image: Image.Image, mode: str, window_top: int, top: int, bottom: int
    ) -> Image.Image:
        """The second pass: output rows ``[top, bottom)`` from :meth:`horizontal`'s result for
        source rows (in ``mode``) from ``window_top``, in ``mode`` again."""
        if self.resample == Image.Resampling.NEAREST:
            return self._nearest_rows(image, window_top, top, bottom)
        offset = window_top / self.factor[1]
        box = (0.0, top * self.scale_y - offset, float(image.width), bottom * self.scale_y - offset)
        out = image.resize((image.width, bottom - top), self.resample, box=box)
        return out.convert(mode) if out.mode != mode else out

    def _nearest_rows(
        self, image: Image.Image, window_top: int, top: int, bottom: int
    ) -> Image.Image:
        """Output rows picked from the window: the very rows Pillow's nearest filter picks."""
        picks = self.nearest_sources()[top:bottom]
        out = Image.new(image.mode, (image.width, bottom - top))
        if image.mode in ("P", "PA") and image.palette is not None:
            out.putpalette(image.palette)
        for row, source in enumerate(picks):
            line = image.crop((0, source - window_top, image.width, source - window_top + 1))
            out.paste(line, (0, row))
        return out

    def nearest_sources(self) -> list[int]:
        """Source row of each output row under the nearest filter, asked of Pillow itself.

        Pillow scales with incremental fixed-point steps, so the rows are read off a resized
        one-pixel-wide column of row numbers rather than computed here.
        """
        cached: list[int] | None = getattr(self, "_nearest_cache", None)
        if cached is None:
            column = Image.new("I", (1, self.source[1]))
            column.putdata(list(range(self.source[1])))
            picked = column.resize((1, self.target[1]), Image.Resampling.NEAREST)
            cached = [int(value) for value in picked.get_flattened_data()]  # type: ignore[arg-type]
            object.__setattr__(self, "_nearest_cache", cached)
        return cached

    def resize_whole(self, image: Image.Image) -> Image.Image:
        """The whole picture resized: the same two passes, over all rows."""
        return self.resize_window(image, 0, 0, self.target[1])


@dataclass(frozen=True)
class WindowJob:
    """Output rows ``[top, bottom)`` of every frame, from the source strips that cover them."""

    plan: ResizePlan
    #: (row, frames) of each held source strip overlapping the window, in order.
    pieces: tuple[tuple[int, tuple[Image.Image, ...]], ...]
    window: tuple[int, int]
    top: int
    bottom: int

    def run(self) -> tuple[Image.Image, ...]:
        """Each frame's output rows: the horizontal pass band by band, then the vertical pass.

        The window's source rows are copied a band at a time (:data:`BAND_BYTES`), so a job
        holds at most one band, the horizontally resized window and its output.
        """
        return tuple([self._frame(index) for index in range(len(self.pieces[0][1]))])

    def _frame(self, index: int) -> Image.Image:
        start, stop = self.window
        first = self.pieces[0][1][index]
        fy = self.plan.factor[1]
        rows = max(fy, BAND_BYTES // max(1, first.width * pixel_bytes(first.mode)) // fy * fy)
        bands = [(top, min(top + rows, stop)) for top in range(start, stop, rows)]
        passed = self.plan.horizontal(self._rows(index, *bands[0]), start)
        if len(bands) > 1:  # the first band's result, then each next one, in one image
            height = sum(-(-(bottom - top) // fy) for top, bottom in bands)
            joined = Image.new(passed.mode, (passed.width, height))
            joined.paste(passed, (0, 0))
            passed = joined
            for top, bottom in bands[1:]:
                band = self.plan.horizontal(self._rows(index, top, bottom), top)
                passed.paste(band, (0, (top - start) // fy))
        return self.plan.vertical(passed, first.mode, start, self.top, self.bottom)

    def _rows(self, index: int, start: int, stop: int) -> Image.Image:
        """Source rows ``[start, stop)`` of frame ``index`` (a copy)."""
        covering = [(top, frames[index]) for top, frames in self.pieces]
        for top, frame in covering:
            if top <= start and stop <= top + frame.height:
                return frame.crop((0, start - top, frame.width, stop - top))
        first = covering[0][1]
        rows = Image.new(first.mode, (first.width, stop - start))
        for top, frame in covering:
            if top < stop and top + frame.height > start:
                rows.paste(frame, (0, top - start))  # clipped to the rows
        return rows


class StripResizer:
    """Takes the source strips of one picture in order; hands out the output strips they allow.

    Output strips are ``rows`` high; each becomes a :class:`WindowJob` as soon as the source
    rows its filters reach have arrived. Source strips no later job needs are let go.
    """

    def __init__(self, plan: ResizePlan, rows: int) -> None:
        self.plan = plan
        height = plan.target[1]
        self._spans = [(top, min(top + rows, height)) for top in range(0, height, rows)]
        self._next = 0
        self._held: list[tuple[int, tuple[Image.Image, ...]]] = []
        self._received = 0

    @property
    def finished(self) -> bool:
        """True once every output strip has been handed out."""
        return self._next == len(self._spans)

    def add(self, top: int, frames: tuple[Image.Image, ...]) -> list[WindowJob]:
        """Hold the source rows from ``top``; the jobs that can now run, in output order."""
        self._held.append((top, frames))
        self._received = top + frames[0].height
        jobs: list[WindowJob] = []
        while self._next < len(self._spans):
            out_top, out_bottom = self._spans[self._next]
            start, stop = self.plan.rows_needed(out_top, out_bottom)
            if stop > self._received and self._received < self.plan.source[1]:
                break
            pieces = tuple(
                (row, held)
                for row, held in self._held
                if row < stop and row + held[0].height > start
            )
            jobs.append(WindowJob(self.plan, pieces, (start, stop), out_top, out_bottom))
            self._next += 1
        if self.finished:
            self._held = []
        else:
            needed_from = self.plan.rows_needed(*self._spans[self._next])[0]
            self._held = [(r, h) for r, h in self._held if r + h[0].height > needed_from]
        return jobs
