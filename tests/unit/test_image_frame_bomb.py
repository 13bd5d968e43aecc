"""A frame bomb (an animation of many tiny frames) fails with ``TooManyFrames`` at frame
``max_frames + 1``, before the rest of the frames are decoded."""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest
from PIL import Image

from steps.errors import TooManyFrames
from steps.image.codec.decode import DecodeParams, decode_bytes
from steps.image.codec.frames import DEFAULT_MAX_FRAMES


def one_pixel_animation(frames: int) -> bytes:
    """A GIF of ``frames`` 1×1 frames of alternating colours (so none is merged away)."""
    colours = [Image.new("RGB", (1, 1), (255 * (i % 2), 0, 0)) for i in range(frames)]
    out = io.BytesIO()
    colours[0].save(out, format="GIF", save_all=True, append_images=colours[1:], duration=10)
    return out.getvalue()


def test_many_one_pixel_frames_fail_with_too_many_frames() -> None:
    data = one_pixel_animation(3 * DEFAULT_MAX_FRAMES)
    started = time.monotonic()
    with pytest.raises(TooManyFrames, match=r"more than 1000 frames \(image.max_frames\)"):
        decode_bytes(data, DecodeParams(formats=("GIF",)))
    print(
        f"{len(data)} B, {3 * DEFAULT_MAX_FRAMES} frames: refused in "
        f"{time.monotonic() - started:.3f} s"
    )


def test_an_animation_at_the_limit_decodes_every_frame() -> None:
    picture = decode_bytes(one_pixel_animation(20), DecodeParams(formats=("GIF",), max_frames=20))
    assert len(picture.frames) == 20


def test_the_limit_is_the_workflows() -> None:
    with pytest.raises(TooManyFrames, match="more than 5 frames"):
        decode_bytes(one_pixel_animation(6), DecodeParams(formats=("GIF",), max_frames=5))


def test_a_64_mib_gif_of_one_pixel_frames_is_refused_reading_little_of_it() -> None:
    frames = one_pixel_animation(6).split(b"\x21\xf9\x04")  # graphic control extensions
    head = b"\x21\xf9\x04".join(frames[:3])
    pair = b"\x21\xf9\x04" + frames[3] + b"\x21\xf9\x04" + frames[4]  # two alternating frames
    data = head + pair * ((64 * 1024**2) // len(pair)) + b";"
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TooManyFrames):
            decode_bytes(data, DecodeParams(formats=("GIF",)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    print(f"{len(data)} B GIF refused in {elapsed:.3f} s, {peak / 2**20:.1f} MiB allocated")
    assert peak < 50 * 1024**2
