"""compress and the encode it feeds: orientation, fitting, modes per format, metadata, frames."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image, features
from pydantic import ValidationError

from steps.image import (
    COMPRESS,
    CompressParams,
    DecodeParams,
    Picture,
    compress_picture,
    decode_bytes,
    encode_bytes,
)
from steps.image.codec.modes import cmyk_to_rgb
from steps.image.ops.compress import fit_within
from tests.support.images import (
    GREEN,
    RED,
    animated_gif,
    close,
    corner_colours,
    encode,
    exif_with_orientation,
    marker_image,
    noise,
    open_bytes,
    oriented_jpeg,
    srgb_profile,
)


def run(data: bytes, **params: object) -> Image.Image:
    """decode → compress → encode, as the pipeline does; the output, reopened."""
    compress_params = CompressParams.model_validate(params)
    target = COMPRESS.size_hint(compress_params)
    picture = decode_bytes(data, DecodeParams(target_size=target))
    return open_bytes(encode_bytes(compress_picture(picture, compress_params)))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_comes_out_upright(orientation: int) -> None:
    out = run(oriented_jpeg(orientation), format="jpeg")
    assert out.size == (60, 40)
    left, right = corner_colours(out)
    assert close(left, RED), left
    assert close(right, GREEN), right
    assert 0x0112 not in out.getexif()


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_orientation_is_applied_after_resizing_into_the_swapped_box(orientation: int) -> None:
    out = run(oriented_jpeg(orientation, size=(240, 160)), max_width=120, max_height=120)
    assert out.size == (120, 80)
    left, right = corner_colours(out)
    assert close(left, RED) and close(right, GREEN)


def test_kept_exif_loses_only_its_orientation_tag() -> None:
    out = run(oriented_jpeg(6), strip_metadata="none")
    exif = out.getexif()
    assert 0x0112 not in exif
    assert exif[0x010F] == "Bucketstream Camera"


def test_exif_is_stripped_by_default() -> None:
    out = run(oriented_jpeg(1))
    assert "exif" not in out.info


def test_never_upscales() -> None:
    assert run(encode(noise((80, 50)), "PNG"), max_width=1000, max_height=1000).size == (80, 50)


@pytest.mark.parametrize(
    ("box", "expected"),
    [((300, 300), (300, 200)), ((2**31 - 1, 100), (150, 100)), ((600, 2**31 - 1), (600, 400))],
)
def test_fits_inside_the_box(box: tuple[int, int], expected: tuple[int, int]) -> None:
    assert fit_within((1200, 800), box) == expected


def test_only_max_height() -> None:
    assert run(encode(noise((1200, 800)), "JPEG"), max_height=100).size == (150, 100)


def test_icc_profile_is_kept_byte_for_byte() -> None:
    icc = srgb_profile()
    for fmt in ("JPEG", "PNG", "WEBP"):
        out = run(encode(noise((120, 80)), fmt, icc_profile=icc), max_width=60)
        assert out.info.get("icc_profile") == icc, fmt


def test_strip_all_drops_the_icc_profile() -> None:
    out = run(encode(noise((60, 40)), "PNG", icc_profile=srgb_profile()), strip_metadata="all")
    assert "icc_profile" not in out.info


def test_alpha_is_flattened_onto_the_background_for_jpeg() -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 255, 255))
    image.paste((0, 0, 0, 0), (0, 0, 20, 40))
    out = run(encode(image, "PNG"), format="jpeg", background="red")
    assert out.mode == "RGB"
    assert close(out.getpixel((5, 20)), RED)  # type: ignore[arg-type]
    assert close(out.getpixel((35, 20)), (0, 0, 255))  # type: ignore[arg-type]


def test_palette_transparency_kept_in_png_and_flattened_in_jpeg() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (20, 0, 40, 40))
    data = encode(image, "PNG", transparency=0)
    kept = run(data)
    assert kept.mode == "P" and kept.info["transparency"] == 0
    resized = run(data, max_width=20).convert("RGBA")
    assert resized.getpixel((2, 10))[3] == 0  # type: ignore[index]
    assert resized.getpixel((18, 10)) == (0, 0, 255, 255)
    flat = run(data, format="jpeg")
    assert close(flat.getpixel((5, 20)), (255, 255, 255))  # type: ignore[arg-type]


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (40, 40), (0, 255, 255, 0))  # magenta + yellow = red
    for fmt in ("jpeg", "png", "webp"):
        out = run(encode(cmyk, "JPEG"), format=fmt)
        assert out.mode == "RGB", fmt
        assert close(out.getpixel((20, 20)), RED), fmt  # type: ignore[arg-type]


def test_sixteen_bit_png_stays_sixteen_bit_in_png_and_scales_for_jpeg() -> None:
    image = Image.new("I;16", (40, 40), 40000)
    data = encode(image, "PNG")
    png = run(data, max_width=20)
    assert png.mode == "I;16"
    assert png.size == (20, 20)
    assert abs(png.getpixel((10, 10)) - 40000) < 300  # type: ignore[operator]
    jpeg = run(data, format="jpeg")
    assert jpeg.mode == "L"
    assert abs(jpeg.getpixel((10, 10)) - 40000 / 257) < 3  # type: ignore[operator]


def test_one_bit_images() -> None:
    image = Image.new("1", (40, 40), 0)
    image.paste(1, (0, 0, 20, 40))
    data = encode(image, "PNG")
    assert run(data).mode == "1"
    jpeg = run(data, format="jpeg")
    assert jpeg.mode == "L"
    assert jpeg.getpixel((5, 5)) > 240 and jpeg.getpixel((35, 5)) < 15  # type: ignore[operator]
    small = run(data, max_width=10)
    assert small.mode == "L"  # resized with the filter, not nearest-neighbour


def test_grey_with_alpha_to_jpeg_and_webp() -> None:
    image = Image.new("LA", (20, 20), (100, 0))
    assert run(encode(image, "PNG"), format="jpeg", background="white").getpixel((5, 5)) == (
        255,
        255,
        255,
    )
    assert run(encode(image, "PNG"), format="webp").mode == "RGBA"


def test_animated_gif_keeps_every_frame_resized() -> None:
    out = run(animated_gif((100, 200, 300, 400), loop=0), max_width=32)
    assert getattr(out, "n_frames", 1) == 4
    assert out.size == (32, 24)
    durations = []
    for index in range(4):
        out.seek(index)
        durations.append(out.info["duration"])
    assert durations == [100, 200, 300, 400]
    assert out.info["loop"] == 0


def test_animated_gif_to_webp_stays_animated() -> None:
    out = run(animated_gif(), format="webp", max_width=32)
    assert out.format == "WEBP"
    assert getattr(out, "n_frames", 1) == 4


def test_animated_gif_to_jpeg_keeps_the_first_frame() -> None:
    picture = compress_picture(decode_bytes(animated_gif()), CompressParams(format="jpeg"))
    out = open_bytes(encode_bytes(picture))
    assert out.format == "JPEG"
    assert close(out.getpixel((5, 5)), (0, 255, 0))  # type: ignore[arg-type]


def test_options_are_recorded_for_encode() -> None:
    picture = decode_bytes(encode(noise((60, 40)), "PNG"))
    params = CompressParams.model_validate(
        {"format": "jpeg", "quality": 55, "progressive": True, "background": "#102030"}
    )
    options = compress_picture(picture, params).options
    assert (options.format, options.quality, options.progressive) == ("JPEG", 55, True)
    assert options.background == (16, 32, 48)
    assert options.strip == "exif"


def test_keep_format_keeps_the_source_format() -> None:
    assert run(encode(noise((60, 40)), "WEBP")).format == "WEBP"
    assert run(encode(noise((60, 40)), "GIF")).format == "GIF"


def test_quality_changes_the_size() -> None:
    data = encode(noise((200, 200)), "PNG")
    low = encode_bytes(
        compress_picture(decode_bytes(data), CompressParams(format="jpeg", quality=20))
    )
    high = encode_bytes(
        compress_picture(decode_bytes(data), CompressParams(format="jpeg", quality=95))
    )
    assert len(low) < len(high) / 2


def test_compress_never_mutates_its_input() -> None:
    picture = decode_bytes(encode(marker_image((120, 80)), "PNG"))
    before = picture.image.copy()
    compress_picture(picture, CompressParams(max_width=30))
    assert picture.image.tobytes() == before.tobytes()


def test_nbytes_follows_the_frames() -> None:
    picture = decode_bytes(encode(noise((120, 80)), "PNG"))
    smaller = compress_picture(picture, CompressParams(max_width=60))
    assert smaller.nbytes == 60 * 40 * 3
    assert isinstance(replace(smaller), Picture)


# --- params ------------------------------------------------------------------------------------


def test_size_hint_and_output_format() -> None:
    assert COMPRESS.size_hint(CompressParams()) is None
    assert COMPRESS.size_hint(CompressParams(max_width=100, max_height=50)) == (100, 50)
    assert COMPRESS.size_hint(CompressParams(max_width=100)) == (100, 2**31 - 1)
    assert COMPRESS.output_format(CompressParams()) is None
    assert COMPRESS.output_format(CompressParams(format="JPG")) == "jpeg"  # type: ignore[arg-type]


def test_strip_metadata_accepts_booleans() -> None:
    assert CompressParams(strip_metadata=True).strip_metadata == "exif"  # type: ignore[arg-type]
    assert CompressParams(strip_metadata=False).strip_metadata == "none"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [
        {"max_width": 0},
        {"quality": 101},
        {"format": "bmp"},
        {"format": "png", "quality": 80},
        {"format": "webp", "progressive": True},
        {"background": "not-a-colour"},
        {"background": [1, 2]},
        {"resample": "fancy"},
        {"strip_metadata": "some"},
        {"max_witdh": 100},
    ],
)
def test_params_are_validated(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CompressParams.model_validate(raw)


@pytest.mark.skipif(not features.check("avif"), reason="Pillow built without AVIF")
def test_avif_output() -> None:
    assert run(encode(noise((60, 40)), "PNG"), format="avif").format == "AVIF"


def test_exif_orientation_from_png_exif_chunk() -> None:
    stored = marker_image().transpose(Image.Transpose.ROTATE_90)
    data = encode(stored, "PNG", exif=exif_with_orientation(6))
    out = run(data)
    assert out.size == (60, 40)
    left, right = corner_colours(out)
    assert close(left, RED) and close(right, GREEN)


def test_cmyk_with_a_mismatched_profile_is_converted_plainly() -> None:
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))
    out = run(encode(cmyk, "JPEG", icc_profile=srgb_profile()), format="png")
    assert out.mode == "RGB"
    assert "icc_profile" not in out.info  # an RGB profile never described CMYK pixels
    assert close(out.getpixel((5, 5)), RED)  # type: ignore[arg-type]


def test_unusable_cmyk_profile_is_noted_and_dropped() -> None:
    fake = bytearray(srgb_profile())
    fake[16:20] = b"CMYK"  # claims CMYK, holds RGB tags: LittleCMS cannot use it
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))
    picture = decode_bytes(encode(cmyk, "JPEG", icc_profile=bytes(fake)))
    converted = cmyk_to_rgb(picture)
    assert converted.image.mode == "RGB" and converted.icc_profile is None
    assert any("CMYK profile unusable" in note for note in converted.notes)
    assert close(converted.image.getpixel((5, 5)), RED)  # type: ignore[arg-type]
