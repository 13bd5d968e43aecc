"""watermark: marks appear where asked and nowhere else; logos and fonts are checked at setup."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from PIL import Image, ImageChops, ImageStat
from pydantic import ValidationError

from steps import StepConfigError, configure_step, prepare_step
from steps.image import (
    WATERMARK,
    DecodeParams,
    Picture,
    WatermarkParams,
    decode_bytes,
    watermark_picture,
)
from steps.image.ops.watermark import WatermarkResources, composite, placements, prepare_watermark
from tests.support.images import animated_gif, encode, oriented_jpeg

GREY = (128, 128, 128)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


class MemoryLoader:
    """A ResourceLoader over a dict of URLs."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.reads: list[str] = []

    async def read(self, url: str, *, max_bytes: int) -> bytes:
        self.reads.append(url)
        if url not in self.files:
            raise StepConfigError(f"cannot read {url}: no such object")
        data = self.files[url]
        if len(data) > max_bytes:
            raise StepConfigError(f"{url} is over the {max_bytes}-byte limit")
        return data


def logo_png(colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    return encode(Image.new("RGBA", (100, 50), (*colour, 255)), "PNG")


LOADER = MemoryLoader({"s3://assets/logo.png": logo_png(), "s3://assets/notes.txt": b"hello"})


def prepared(raw: dict[str, object], loader: MemoryLoader = LOADER) -> WatermarkResources:
    params = WatermarkParams.model_validate(raw)
    return anyio.run(prepare_watermark, params, loader)


def grey_picture(size: tuple[int, int] = (400, 300), mode: str = "RGB") -> Picture:
    return Picture(frames=(Image.new(mode, size, GREY[: len(mode)]),), source_format="PNG")


def marked(
    raw: dict[str, object], picture: Picture | None = None
) -> tuple[Image.Image, Image.Image]:
    """(before, after) for a watermark with ``raw`` params on a grey picture."""
    picture = picture or grey_picture()
    before = picture.image.copy()
    after = watermark_picture(picture, prepared(raw)).image
    return before, after


def changed_box(before: Image.Image, after: Image.Image) -> tuple[int, int, int, int]:
    box = ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox()
    assert box is not None, "the watermark changed nothing"
    return box


def mean_difference(
    before: Image.Image, after: Image.Image, box: tuple[int, int, int, int]
) -> float:
    """Mean absolute difference per channel inside ``box`` (0 = identical)."""
    diff = ImageChops.difference(before.convert("RGB").crop(box), after.convert("RGB").crop(box))
    return sum(ImageStat.Stat(diff).mean) / 3


def test_text_mark_in_its_corner_and_nowhere_else() -> None:
    before, after = marked({"text": "© Example", "position": "bottom-right", "opacity": 0.8})
    left, top, right, bottom = changed_box(before, after)
    assert left > 200 and top > 225  # bottom-right quarter
    assert right <= 400 - 8 + 1 and bottom <= 300 - 8 + 1  # the 2 % margin is respected
    assert mean_difference(before, after, (left, top, right, bottom)) > 10
    assert mean_difference(before, after, (0, 0, 400, 200)) == 0


@pytest.mark.parametrize(
    ("position", "column", "row"),
    [
        ("top-left", 0, 0),
        ("top", 1, 0),
        ("top-right", 2, 0),
        ("left", 0, 1),
        ("center", 1, 1),
        ("right", 2, 1),
        ("bottom-left", 0, 2),
        ("bottom", 1, 2),
        ("bottom-right", 2, 2),
    ],
)
def test_nine_anchors(position: str, column: int, row: int) -> None:
    before, after = marked({"text": "mark", "position": position, "opacity": 1, "size": 0.06})
    left, top, right, bottom = changed_box(before, after)
    centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    assert int(centre_x // (400 / 3)) == column
    assert int(centre_y // (300 / 3)) == row


def test_zero_opacity_changes_nothing() -> None:
    before, after = marked({"text": "invisible", "opacity": 0})
    assert ImageChops.difference(before, after).getbbox() is None


def test_text_size_is_relative_to_the_width() -> None:
    raw = {"text": "WWWW", "size": 0.05, "opacity": 1}
    small = changed_box(*marked(raw, grey_picture((400, 300))))
    large = changed_box(*marked(raw, grey_picture((800, 600))))
    ratio = (large[2] - large[0]) / (small[2] - small[0])
    assert 1.8 < ratio < 2.2


def test_logo_mark_scaled_and_blended() -> None:
    raw = {"image": "s3://assets/logo.png", "width": 0.25, "opacity": 0.5, "position": "top-left"}
    before, after = marked(raw)
    left, top, right, bottom = changed_box(before, after)
    assert (left, top) == (8, 8)
    assert right - left == 100 and bottom - top == 50  # 0.25 × 400, aspect kept
    red, green, blue = after.getpixel((50, 30))  # type: ignore[misc]
    assert abs(red - 191) <= 2 and abs(green - 64) <= 2 and abs(blue - 64) <= 2


def test_tiled_marks_cover_the_picture() -> None:
    for repeat in ("tile", "diagonal"):
        before, after = marked({"text": "x", "repeat": repeat, "opacity": 1, "spacing": 0.05})
        left, top, right, bottom = changed_box(before, after)
        assert left < 40 and top < 40 and right > 360 and bottom > 260, repeat


def test_diagonal_repeat_offsets_alternate_rows() -> None:
    params = WatermarkParams.model_validate({"text": "x", "repeat": "diagonal"})
    spots = placements(params.marks[0], (400, 300), (40, 20))
    rows = sorted({y for _, y in spots})
    first = min(x for x, y in spots if y == rows[0])
    second = min(x for x, y in spots if y == rows[1])
    assert first != second


def test_several_marks_in_one_step() -> None:
    raw: dict[str, object] = {
        "marks": [
            {"text": "© Example", "position": "bottom-left", "opacity": 1},
            {"image": "s3://assets/logo.png", "position": "top-right", "opacity": 1, "width": 0.1},
        ]
    }
    before, after = marked(raw)
    assert mean_difference(before, after, (0, 200, 200, 300)) > 1
    assert after.getpixel((380, 15)) == (255, 0, 0)
    assert mean_difference(before, after, (0, 0, 200, 150)) == 0


def test_every_frame_of_an_animation_is_marked() -> None:
    picture = decode_bytes(animated_gif())
    befores = [frame.copy() for frame in picture.frames]
    raw = {"text": "anim", "position": "center", "opacity": 1, "size": 0.2}
    result = watermark_picture(picture, prepared(raw))
    assert len(result.frames) == 4
    for before, after in zip(befores, result.frames, strict=True):
        assert ImageChops.difference(before, after.convert(before.mode)).getbbox() is not None


def test_modes_are_kept_editable() -> None:
    raw = {"text": "m", "opacity": 1, "size": 0.2}
    assert watermark_picture(grey_picture(mode="L"), prepared(raw)).image.mode == "L"
    rgba = Picture(frames=(Image.new("RGBA", (100, 100), (0, 0, 0, 0)),), source_format="PNG")
    out = watermark_picture(rgba, prepared({**raw, "position": "center"})).image
    assert out.mode == "RGBA"
    assert out.getpixel((0, 0)) == (0, 0, 0, 0)  # transparency elsewhere untouched
    palette = Picture(frames=(Image.new("P", (100, 100), 3),), source_format="GIF")
    assert watermark_picture(palette, prepared(raw)).image.mode == "RGB"
    sixteen = Picture(frames=(Image.new("I;16", (100, 100), 30000),), source_format="PNG")
    assert watermark_picture(sixteen, prepared(raw)).image.mode == "L"


def test_mark_is_placed_on_the_upright_picture() -> None:
    picture = decode_bytes(oriented_jpeg(6, size=(240, 160)), DecodeParams())
    assert picture.orientation == 6
    result = watermark_picture(picture, prepared({"text": "up", "position": "top-left"}))
    assert result.orientation == 1
    assert result.size == (240, 160)


def test_composite_touches_only_the_region() -> None:
    frame = Image.new("RGB", (50, 50), GREY)
    overlay = Image.new("RGBA", (10, 10), (255, 255, 255, 255))
    composite(frame, overlay, (5, 5))
    assert changed_box(Image.new("RGB", (50, 50), GREY), frame) == (5, 5, 15, 15)


def test_marks_partly_outside_are_clipped() -> None:
    before, after = marked({"text": "WIDE TEXT " * 10, "opacity": 1, "size": 0.2})
    left, _, right, _ = changed_box(before, after)
    assert left == 0 and right <= 400


def test_text_without_setup_uses_the_bundled_font() -> None:
    configured = configure_step(WATERMARK, {"text": "hi"})
    assert configured.resources is None  # the step builds text-only resources itself


# --- setup: logos and fonts ----------------------------------------------------------------------


def test_setup_reads_each_logo_once() -> None:
    loader = MemoryLoader({"s3://assets/logo.png": logo_png()})
    configured = configure_step(WATERMARK, {"image": "s3://assets/logo.png"})
    ready = anyio.run(prepare_step, configured, loader)
    assert loader.reads == ["s3://assets/logo.png"]
    assert isinstance(ready.resources, WatermarkResources)
    assert ready.resources.marks[0].logo.mode == "RGBA"  # type: ignore[union-attr]


def test_missing_logo_fails_the_workflow_load() -> None:
    with pytest.raises(StepConfigError, match=r"marks\.0.*no such object"):
        prepared({"image": "s3://assets/missing.png"})


def test_non_image_logo_fails_the_workflow_load() -> None:
    with pytest.raises(StepConfigError, match="not an image"):
        prepared({"image": "s3://assets/notes.txt"})


def test_truncated_logo_fails_the_workflow_load() -> None:
    data = logo_png()
    loader = MemoryLoader({"logo": data[: len(data) // 2]})
    with pytest.raises(StepConfigError, match=r"marks\.0\.image"):
        prepared({"image": "logo"}, loader)


def test_bad_font_fails_the_workflow_load() -> None:
    loader = MemoryLoader({"font.ttf": b"not a font"})
    with pytest.raises(StepConfigError, match="font"):
        prepared({"text": "x", "font": "font.ttf"}, loader)


@pytest.mark.skipif(not DEJAVU.exists(), reason="DejaVu fonts not installed")
def test_font_file_is_used() -> None:
    loader = MemoryLoader({"dejavu": DEJAVU.read_bytes()})
    resources = prepared({"text": "WWWW", "font": "dejavu", "opacity": 1}, loader)
    picture = grey_picture()
    before = picture.image.copy()
    changed_box(before, watermark_picture(picture, resources).image)


# --- params --------------------------------------------------------------------------------------


def test_single_mark_shorthand_equals_marks_list() -> None:
    short = WatermarkParams.model_validate({"text": "©", "position": "bottom-right"})
    full = WatermarkParams.model_validate({"marks": [{"text": "©", "position": "bottom-right"}]})
    assert short == full


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"marks": []},
        {"text": ""},
        {"text": "a", "image": "b"},
        {"text": "a", "opacity": 1.5},
        {"text": "a", "position": "middle-ish"},
        {"text": "a", "colour": "red"},
        {"text": "a", "color": "no-such-colour"},
        {"image": "s3://a/b", "width": 0},
        {"marks": [{"bogus": 1}]},
    ],
)
def test_params_are_validated(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WatermarkParams.model_validate(raw)


def test_watermark_keeps_encode_options() -> None:
    picture = replace(grey_picture(), loop=3)
    assert watermark_picture(picture, prepared({"text": "x"})).loop == 3
