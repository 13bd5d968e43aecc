"""Pictures shared by the branches of a fan-out are read-only: no step changes them."""

from __future__ import annotations

import io
import threading
from dataclasses import replace

import anyio
from PIL import Image, ImageChops

from steps import share_frame
from steps.image import (
    CompressParams,
    EncodeOptions,
    Picture,
    WatermarkParams,
    compress_picture,
    watermark_picture,
)
from steps.image.codec.encode import encode_bytes
from steps.image.ops.watermark import prepare_watermark


class NoFiles:
    async def read(self, url: str, *, max_bytes: int) -> bytes:
        raise AssertionError(f"no file should be read, asked for {url}")


def _picture() -> Picture:
    frame = Image.linear_gradient("L").resize((300, 200)).convert("RGB")
    frame.info["icc_profile"] = b"not read by encode"
    return Picture(frames=(frame,), source_format="JPEG", exif=None)


def test_share_marks_pictures_and_leaves_bytes_alone() -> None:
    picture = _picture()
    shared = share_frame(picture)
    assert shared.shared and shared.frames[0] is picture.frames[0]
    assert share_frame(shared) is shared
    assert share_frame(b"bytes") == b"bytes"


def test_watermark_draws_on_a_copy_of_a_shared_picture() -> None:
    picture = share_frame(_picture())
    before = picture.image.copy()
    params = WatermarkParams.model_validate({"text": "© Example", "opacity": 1})
    resources = anyio.run(prepare_watermark, params, NoFiles())
    marked = watermark_picture(picture, resources)
    assert ImageChops.difference(before, picture.image).getbbox() is None  # untouched
    assert ImageChops.difference(before, marked.image).getbbox() is not None
    assert not marked.shared


def test_watermark_still_draws_in_place_on_a_picture_it_owns() -> None:
    picture = _picture()
    params = WatermarkParams.model_validate({"text": "© Example", "opacity": 1})
    resources = anyio.run(prepare_watermark, params, NoFiles())
    assert watermark_picture(picture, resources).image is picture.image


def test_branches_encode_one_shared_frame_at_once_each_with_its_own_options() -> None:
    picture = share_frame(_picture())
    formats = ["JPEG", "PNG", "WEBP", "JPEG", "PNG", "WEBP"] * 3
    results: dict[int, bytes] = {}

    def encode(index: int, fmt: str) -> None:
        results[index] = encode_bytes(replace(picture, options=EncodeOptions(format=fmt)))

    threads = [threading.Thread(target=encode, args=(i, f)) for i, f in enumerate(formats)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, fmt in enumerate(formats):
        assert Image.open(io.BytesIO(results[index])).format == fmt
    assert picture.image.info == {"icc_profile": b"not read by encode"}  # its info untouched


def test_compress_hands_on_its_own_frames_unshared_and_keeps_shared_ones_marked() -> None:
    picture = share_frame(_picture())
    smaller = compress_picture(picture, CompressParams(max_width=100))
    assert smaller.image.width == 100 and not smaller.shared
    same = compress_picture(picture, CompressParams(format="png"))
    assert same.image is picture.image and same.shared
