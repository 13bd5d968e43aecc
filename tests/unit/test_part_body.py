"""PartBody: the frames of one part read as one seekable file, without joining them."""

from __future__ import annotations

import array
import hashlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage_adapter.parts import PartBody

FRAMES = [b"abc", b"", b"defgh", b"i", b"jklmnop"]
JOINED = b"".join(FRAMES)


def test_length_and_whole_read() -> None:
    body = PartBody(FRAMES)
    assert len(body) == len(JOINED)
    assert body.read() == JOINED
    assert body.read() == b""
    assert body.tell() == len(JOINED)


@given(
    frames=st.lists(st.binary(max_size=40), max_size=8),
    size=st.integers(min_value=1, max_value=17),
)
def test_reads_of_any_size_cross_frames_in_order(frames: list[bytes], size: int) -> None:
    body = PartBody(frames)
    read = b"".join(iter(lambda: body.read(size), b""))
    assert read == b"".join(frames)


def test_seek_and_tell_like_a_file() -> None:
    body = PartBody(FRAMES)
    assert body.seek(4) == 4
    assert body.read(3) == JOINED[4:7]
    assert body.seek(-2, io.SEEK_CUR) == 5
    assert body.read(2) == JOINED[5:7]
    assert body.seek(-3, io.SEEK_END) == len(JOINED) - 3
    assert body.read() == JOINED[-3:]
    assert body.seek(100) == len(JOINED)  # clamped, as the part has no more bytes
    assert body.seek(-100, io.SEEK_CUR) == 0
    with pytest.raises(ValueError, match="whence"):
        body.seek(0, 7)


def test_readinto_fills_a_buffer_across_frames() -> None:
    body = PartBody(FRAMES)
    buffer = bytearray(6)
    assert body.readinto(buffer) == 6
    assert bytes(buffer) == JOINED[:6]
    rest = bytearray(100)
    count = body.readinto(rest)
    assert bytes(rest[:count]) == JOINED[6:]
    assert body.readinto(rest) == 0


def test_rewinding_sends_the_same_bytes_again() -> None:
    """botocore reads a body for the checksum, the signature and the socket, then retries."""
    body = PartBody(FRAMES)
    first = hashlib.sha256(body.read()).hexdigest()
    body.seek(0)
    assert hashlib.sha256(body.read(1024)).hexdigest() == first


def test_frames_are_views_not_copies() -> None:
    frame = bytearray(b"0123456789")
    body = PartBody([memoryview(frame)[2:6]])
    frame[2] = ord("X")  # a view: a part must only be given frames nobody changes
    assert body.read() == b"X345"


def test_buffers_of_wider_items_count_bytes() -> None:
    numbers = array.array("I", [1, 2])
    body = PartBody([numbers])
    assert len(body) == numbers.itemsize * 2
    assert body.read() == numbers.tobytes()


def test_empty_and_closed() -> None:
    empty = PartBody([])
    assert len(empty) == 0
    assert empty.read() == b""
    body = PartBody(FRAMES)
    body.close()
    assert body.closed
