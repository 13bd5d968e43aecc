"""rotate: quarter turns are exact, other angles expand and fill."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops
from pydantic import ValidationError

from steps.image import Picture, RotateParams, decode_bytes, rotate_picture
from tests.support.images import GREEN, RED, close, corner_colours, marker_image, oriented_jpeg


def picture_of(image: Image.Image) -> Picture:
    return Picture(frames=(image,), source_format="PNG")


def rotated(image: Image.Image, **params: object) -> Image.Image:
    return rotate_picture(picture_of(image), RotateParams.model_validate(params)).image


@pytest.mark.parametrize(
    ("angle", "expected"),
    [
        (90, Image.Transpose.ROTATE_270),
        (180, Image.Transpose.ROTATE_180),
        (270, Image.Transpose.ROTATE_90),
        (-90, Image.Transpose.ROTATE_90),
        (450, Image.Transpose.ROTATE_270),
    ],
)
def test_quarter_turns_are_lossless_transposes(angle: int, expected: Image.Transpose) -> None:
    image = marker_image((60, 40))
    out = rotated(image, angle=angle)
    assert ImageChops.difference(out, image.transpose(expected)).getbbox() is None


def test_ninety_degrees_is_clockwise() -> None:
    out = rotated(marker_image((60, 40)), angle=90)
    assert out.size == (40, 60)
    left, right = corner_colours(out)
    assert left == (255, 255, 255) and right == RED  # the top-left corner went to the top-right


def test_zero_is_unchanged() -> None:
    image = marker_image()
    assert rotated(image, angle=360) is image


def test_arbitrary_angle_expands_and_fills() -> None:
    image = Image.new("RGB", (100, 50), (0, 0, 255))
    out = rotated(image, angle=30, fill="red")
    assert out.size[0] > 100 and out.size[1] > 50
    assert close(out.getpixel((0, 0)), RED)  # type: ignore[arg-type]
    assert close(out.getpixel((out.width // 2, out.height // 2)), (0, 0, 255))  # type: ignore[arg-type]


def test_arbitrary_angle_without_expand_keeps_the_size() -> None:
    assert rotated(Image.new("RGB", (100, 50)), angle=10, expand=False).size == (100, 50)


def test_transparent_fill_adds_alpha() -> None:
    out = rotated(Image.new("RGB", (100, 50), (0, 0, 255)), angle=45, fill="transparent")
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_grey_and_palette_images() -> None:
    assert rotated(Image.new("L", (30, 20), 50), angle=15).mode == "L"
    assert rotated(Image.new("P", (30, 20), 1), angle=15).mode == "RGB"


def test_rotation_applies_after_the_exif_orientation() -> None:
    picture = decode_bytes(oriented_jpeg(6))
    out = rotate_picture(picture, RotateParams(angle=180)).image
    assert out.size == (60, 40)
    left, right = corner_colours(out)
    # upright marker: red top-left, green top-right; turned 180°: both at the bottom
    assert not close(left, RED) and not close(right, GREEN)
    bottom_right = out.convert("RGB").getpixel((out.width - 4, out.height - 4))
    assert close(bottom_right, RED)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw", [{}, {"angle": "north"}, {"angle": float("nan")}, {"angle": 90, "fill": "nope"}]
)
def test_params_are_validated(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RotateParams.model_validate(raw)
