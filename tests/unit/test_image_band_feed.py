"""Bands handed from the decoding thread to the sending thread: in order, exact, never waited on."""

from __future__ import annotations

import threading

import pytest
from PIL import Image, ImageChops

from steps.errors import TruncatedImage
from steps.image import DecodeParams, PictureStrip, decode_bytes
from steps.image.codec.band_feed import BandFeed
from steps.image.codec.decode import DecodeProgress, decode_stream
from steps.image.codec.streams import ChunkReader
from steps.image.picture import Picture
from tests.support.images import encode, noise
from tests.unit.test_image_rows import chunks


def strip_of(top: int, bottom: int) -> PictureStrip:
    rows = Image.new("RGB", (4, bottom - top))
    return PictureStrip(Picture(frames=(rows,), source_format="JPEG"), top, (4, 100))


def test_bands_come_out_in_order_until_the_feed_is_closed() -> None:
    feed = BandFeed()
    feed.start(strip_of)
    feed.ready(0, 32)
    feed.ready(32, 64)
    feed.close()
    assert [(strip.top, strip.frames[0].height) for strip in feed] == [(0, 32), (32, 32)]
    assert feed.announced == 2


def test_a_failed_decode_drops_the_bands_still_pending() -> None:
    feed = BandFeed()
    feed.start(strip_of)
    feed.ready(0, 32)
    feed.close(failed=True)
    assert list(feed) == []


def test_a_band_cannot_be_announced_before_start() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        BandFeed().ready(0, 32)


def test_the_sending_thread_waits_for_bands_and_for_the_end() -> None:
    feed = BandFeed()
    received: list[int] = []
    sender = threading.Thread(target=lambda: received.extend(strip.top for strip in feed))
    sender.start()
    feed.start(strip_of)
    for top in range(0, 100, 25):
        feed.ready(top, top + 25)
    feed.close()
    sender.join(timeout=10)
    assert not sender.is_alive()
    assert received == [0, 25, 50, 75]


def test_the_decode_never_waits_for_the_bands_to_be_taken() -> None:
    """Nobody takes a band while the picture decodes: the decode still ends, every band is
    announced, and each can be copied afterwards."""
    data = encode(noise((900, 1800)), "JPEG", quality=90)
    feed = BandFeed()
    progress = DecodeProgress()
    decode_stream(ChunkReader.over(chunks(data)), DecodeParams(), progress, feed)
    strips = list(feed)
    assert progress.bands == feed.announced == len(strips) > 1
    assert strips[-1].top + strips[-1].frames[0].height == 1800


def test_bands_copied_while_the_rows_below_decode_hold_the_decoded_pixels() -> None:
    data = encode(noise((1600, 2400)), "JPEG", quality=95)
    feed = BandFeed()
    strips: list[PictureStrip] = []
    sender = threading.Thread(target=lambda: strips.extend(feed))
    sender.start()
    decode_stream(ChunkReader.over(chunks(data)), DecodeParams(), DecodeProgress(), feed)
    sender.join(timeout=30)
    reference = decode_bytes(data).image
    assert len(strips) > 4
    for strip in strips:
        frame = strip.frames[0]
        box = (0, strip.top, frame.width, strip.top + frame.height)
        assert ImageChops.difference(frame, reference.crop(box)).getbbox() is None


def test_a_jpeg_cut_short_closes_the_feed_as_failed() -> None:
    data = encode(noise((1600, 1200)), "JPEG", quality=95)
    feed = BandFeed()
    with pytest.raises(TruncatedImage):
        decode_stream(
            ChunkReader.over(chunks(data[: len(data) * 2 // 3])), DecodeParams(), None, feed
        )
    assert feed.announced > 0  # some bands were finished before the data ran out
    assert list(feed) == []  # none goes on after the failure
