"""The sample images of tests.support.images are what they claim to be."""

from __future__ import annotations

import io

from PIL import Image

from tests.support.images import animated_gif, open_bytes, oriented_jpeg, png_declaring


def test_oriented_jpeg_is_stored_transformed() -> None:
    image = open_bytes(oriented_jpeg(6))
    assert image.size == (40, 60)
    assert image.getexif()[0x0112] == 6


def test_png_declaring_a_huge_size_is_small() -> None:
    data = png_declaring(100_000, 100_000)
    assert len(data) < 200
    assert data.startswith(b"\x89PNG")


def test_animated_gif_has_its_frames() -> None:
    image = Image.open(io.BytesIO(animated_gif()))
    assert getattr(image, "n_frames", 1) == 4
