"""Baseline JPEG written strip by strip: the first bytes leave before the last row exists.

A baseline JPEG's entropy-coded data can be cut at *restart markers*: at each one the decoder
resets its DC predictions, so what follows depends on nothing before it. With a restart
interval of one MCU row (``restart_marker_rows=1``), a band of rows whose height is a multiple
of the MCU height (16 rows covers 4:4:4, 4:2:2 and 4:2:0) encodes — on its own, with the same
quality and sampling, hence the same tables — to exactly the MCU rows it would have inside the
whole picture. :class:`JpegStripWriter` encodes each band with Pillow, keeps the header of the
first (metadata, tables, with the frame height set to the whole picture's), and joins the bands'
entropy-coded data with restart markers numbered on across bands (``RST0``…``RST7``, cyclic).
Decoders see one ordinary baseline JPEG; its pixels are those of the whole picture encoded at
once (restart markers add 2-3 bytes per MCU row).

Rows are taken in bands of whole MCU rows; the rest of a strip waits for the next one.
"""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image

from steps.errors import EncodeFailed

#: Band heights are multiples of this (the largest MCU height Pillow writes: 4:2:0).
MCU_ROWS = 16
_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"
_RESTART = re.compile(rb"\xff[\xd0-\xd7]")
#: Arguments of ``Image.save`` that shape the pixels and tables (the rest is metadata).
_CODING_ARGS = ("format", "quality", "subsampling", "qtables")


class JpegStripWriter:
    """Encodes the rows of one picture as they come; :meth:`add` returns bytes to send."""

    def __init__(self, size: tuple[int, int], save_args: dict[str, Any]) -> None:
        if save_args.get("progressive") or save_args.get("optimize"):
            raise ValueError("only baseline JPEG without optimized tables can be written in strips")
        self._size = size
        self._first_args = {**save_args, "restart_marker_rows": 1}
        self._band_args = {key: save_args[key] for key in _CODING_ARGS if key in save_args}
        self._band_args["restart_marker_rows"] = 1
        self._carry: Image.Image | None = None
        self._rows = 0
        self._mcu_rows_written = 0
        self._tables: bytes | None = None
        self.bytes_written = 0

    @property
    def finished(self) -> bool:
        """True once the last row has been written (with the end-of-image marker)."""
        return self._rows == self._size[1]

    def add(self, rows: Image.Image) -> bytes:
        """Take the next ``rows`` (full width, L or RGB); the JPEG bytes they complete."""
        if rows.width != self._size[0]:
            raise EncodeFailed(
                f"a strip {rows.width} wide does not fit a {self._size[0]}-wide JPEG"
            )
        if self._carry is not None:
            joined = Image.new(rows.mode, (rows.width, self._carry.height + rows.height))
            joined.paste(self._carry, (0, 0))
            joined.paste(rows, (0, self._carry.height))
            rows, self._carry = joined, None
        available = self._rows + rows.height
        if available > self._size[1]:
            raise EncodeFailed(f"strips hold more than the picture's {self._size[1]} rows")
        last = available == self._size[1]
        band = rows.height if last else rows.height // MCU_ROWS * MCU_ROWS
        if band < rows.height:
            self._carry = rows.crop((0, band, rows.width, rows.height))
            rows = rows.crop((0, 0, rows.width, band))
        if band == 0:
            return b""
        data = self._band(rows, last)
        self._rows += band
        self.bytes_written += len(data)
        return data

    def _band(self, rows: Image.Image, last: bool) -> bytes:
        first = self._tables is None
        buffer = io.BytesIO()
        rows.save(buffer, **(self._first_args if first else self._band_args))
        data = buffer.getvalue()
        header_end, tables, mcu_height, sof = _parse(data)
        if mcu_height > MCU_ROWS or MCU_ROWS % mcu_height:
            raise EncodeFailed(f"JPEG MCU rows of {mcu_height} pixels cannot be written in strips")
        if first:
            self._tables = tables
        elif tables != self._tables:
            raise EncodeFailed("a JPEG strip was encoded with other tables than the first")
        pieces = _RESTART.split(data[header_end:-2])
        mcu_rows = -(-rows.height // mcu_height)
        if len(pieces) != mcu_rows:
            raise EncodeFailed(
                f"a JPEG strip of {mcu_rows} MCU rows held {len(pieces) - 1} restart markers"
            )
        out = bytearray()
        if first:
            header = bytearray(data[:header_end])
            header[sof + 5 : sof + 7] = self._size[1].to_bytes(2, "big")
            out += header
        for index, piece in enumerate(pieces):
            out += piece
            if index < len(pieces) - 1 or not last:
                out += bytes((0xFF, 0xD0 + (self._mcu_rows_written + index) % 8))
        self._mcu_rows_written += len(pieces)
        if last:
            out += _EOI
        return bytes(out)


def _parse(data: bytes) -> tuple[int, bytes, int, int]:
    """(end of the SOS header, the coding tables, MCU height, offset of SOF0) of a JPEG."""
    if not data.startswith(_SOI) or not data.endswith(_EOI):
        raise EncodeFailed("the JPEG encoder wrote no complete image")
    position, tables, mcu_height, sof = 2, bytearray(), 0, -1
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise EncodeFailed("unexpected bytes between JPEG header segments")
        marker = data[position + 1]
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment = data[position : position + 2 + length]
        if marker == 0xC0:
            sof = position
            count = segment[9]
            factors = segment[10 : 10 + 3 * count]
            mcu_height = 8 * max(factors[index * 3 + 1] & 0x0F for index in range(count))
            tables += segment[:5] + segment[7:]  # without the height, which differs by strip
        elif marker in (0xC4, 0xDB, 0xDD):  # DHT, DQT, DRI
            tables += segment
        elif marker == 0xDA:
            if sof < 0:
                raise EncodeFailed("the JPEG encoder wrote no baseline frame header")
            return position + 2 + length, bytes(tables), mcu_height, sof
        elif marker in range(0xC1, 0xD0) and marker not in (0xC4, 0xC8, 0xCC):
            raise EncodeFailed("the JPEG encoder wrote a frame that is not baseline")
        position += 2 + length
    raise EncodeFailed("the JPEG encoder wrote no scan")
