"""watermark: text and logo marks composited onto every frame.

Logos and fonts are read and checked once per workflow, in :func:`prepare_watermark` (the step's
``setup``): a missing or non-image logo fails the workflow load with :class:`StepConfigError`,
never an execution. Per picture, each mark is rendered at a size relative to the picture width
and composited only over the region it covers (the whole picture for tiled marks).
``watermark_picture`` modifies the picture's frames in place; the picture is handed on, so no
one else sees them.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from steps.api import ResourceLoader, StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.errors import StepConfigError
from steps.image.codec.exif import CorruptExif, parse_exif
from steps.image.codec.modes import cmyk_to_rgb, editable
from steps.image.ops.marks import Anchor, ImageMark, TextMark, WatermarkParams, _Mark
from steps.image.picture import ORIENTATION_TRANSPOSE, Picture, expect_picture, upright

#: Largest logo file read, and largest logo decoded.
LOGO_MAX_BYTES = 10 * 1024 * 1024
LOGO_MAX_PIXELS = 16_000_000
LOGO_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
FONT_MAX_BYTES = 32 * 1024 * 1024
#: Smallest text size drawn, in pixels.
MIN_TEXT_PX = 6
#: A repeat never places more than this many marks per row or column.
MAX_REPEATS_PER_AXIS = 100

_ANCHORS: dict[str, tuple[str, str]] = {
    "top-left": ("left", "top"),
    "top": ("center", "top"),
    "top-right": ("right", "top"),
    "left": ("left", "middle"),
    "center": ("center", "middle"),
    "right": ("right", "middle"),
    "bottom-left": ("left", "bottom"),
    "bottom": ("center", "bottom"),
    "bottom-right": ("right", "bottom"),
}


@dataclass(frozen=True)
class PreparedText:
    """A text mark and its font file (None: Pillow's bundled font)."""

    mark: TextMark
    font_data: bytes | None = None


@dataclass(frozen=True)
class PreparedImage:
    """An image mark and its decoded, upright RGBA logo."""

    mark: ImageMark
    logo: Image.Image


Prepared = PreparedText | PreparedImage


@dataclass(frozen=True)
class WatermarkResources:
    """What ``prepare_watermark`` loaded, one entry per mark."""

    marks: tuple[Prepared, ...]


async def prepare_watermark(params: WatermarkParams, loader: ResourceLoader) -> WatermarkResources:
    """Read and check every logo and font once; StepConfigError names the bad one."""
    prepared: list[Prepared] = []
    for index, mark in enumerate(params.marks):
        where = f"watermark.marks.{index}"
        if isinstance(mark, ImageMark):
            data = await _read(loader, mark.image, LOGO_MAX_BYTES, where)
            prepared.append(PreparedImage(mark, await run_cpu(load_logo, data, f"{where}.image")))
        elif mark.font is not None:
            data = await _read(loader, mark.font, FONT_MAX_BYTES, where)
            await run_cpu(check_font, data, f"{where}.font")
            prepared.append(PreparedText(mark, data))
        else:
            prepared.append(PreparedText(mark))
    return WatermarkResources(tuple(prepared))


def load_logo(data: bytes, where: str) -> Image.Image:
    """Decode a logo to upright RGBA; StepConfigError if it is not a usable image."""
    try:
        with Image.open(io.BytesIO(data), formats=list(LOGO_FORMATS)) as image:
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise StepConfigError(
                    f"{where}: the logo is {image.width}×{image.height}, over "
                    f"{LOGO_MAX_PIXELS / 1e6:.0f} megapixels; use a smaller file"
                )
            image.load()
            logo = image.convert("RGBA")
            raw_exif = image.info.get("exif")
    except StepConfigError:
        raise
    except UnidentifiedImageError:
        raise StepConfigError(
            f"{where}: not an image ({len(data)} bytes); use a PNG, JPEG, WebP or GIF logo"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Warning) as exc:
        raise StepConfigError(f"{where}: the logo cannot be decoded: {exc}") from None
    if isinstance(raw_exif, bytes):
        try:
            method = ORIENTATION_TRANSPOSE.get(parse_exif(raw_exif).orientation)
        except CorruptExif:
            method = None
        if method is not None:
            logo = logo.transpose(method)
    return logo


def check_font(data: bytes, where: str) -> None:
    """Raise StepConfigError unless ``data`` is a font FreeType can load."""
    try:
        ImageFont.truetype(io.BytesIO(data), 12)
    except (OSError, ValueError) as exc:
        raise StepConfigError(f"{where}: not a TrueType/OpenType font: {exc}") from None


def render_mark(prepared: Prepared, picture_width: int) -> Image.Image:
    """The mark as an RGBA image sized for a picture ``picture_width`` wide, opacity applied."""
    mark = prepared.mark
    if isinstance(prepared, PreparedText):
        image = _render_text(prepared, picture_width)
    else:
        logo = prepared.logo
        width = max(1, round(prepared.mark.width * picture_width))
        height = max(1, round(logo.height * width / logo.width))
        image = logo.resize((width, height), Image.Resampling.LANCZOS)
    if mark.opacity < 1:
        alpha = image.getchannel("A").point(lambda value: round(value * mark.opacity))
        image.putalpha(alpha)
    if mark.rotation % 360:
        image = image.rotate(-mark.rotation, resample=Image.Resampling.BICUBIC, expand=True)
    return image


def placements(
    mark: _Mark, picture_size: tuple[int, int], mark_size: tuple[int, int]
) -> list[tuple[int, int]]:
    """Top-left corners where the mark goes: one anchored spot, or a tiled/diagonal grid."""
    width, height = picture_size
    mark_w, mark_h = mark_size
    margin = round(mark.margin * width)
    if mark.repeat == "none":
        return [_anchored(mark.position, picture_size, mark_size, margin)]
    gap = round(mark.spacing * width)
    step_x = max(mark_w + gap, -(-width // MAX_REPEATS_PER_AXIS), 1)
    step_y = max(mark_h + gap, -(-height // MAX_REPEATS_PER_AXIS), 1)
    spots: list[tuple[int, int]] = []
    for row, y in enumerate(range(margin, height, step_y)):
        shift = step_x // 2 if mark.repeat == "diagonal" and row % 2 else 0
        spots.extend((x, y) for x in range(margin - shift, width, step_x))
    return spots


def build_overlay(
    picture_size: tuple[int, int], mark_image: Image.Image, spots: list[tuple[int, int]]
) -> tuple[tuple[int, int], Image.Image] | None:
    """The marks drawn on a transparent overlay covering only their region, and its origin."""
    width, height = picture_size
    left = max(0, min(x for x, _ in spots))
    top = max(0, min(y for _, y in spots))
    right = min(width, max(x + mark_image.width for x, _ in spots))
    bottom = min(height, max(y + mark_image.height for _, y in spots))
    if right <= left or bottom <= top:
        return None
    overlay = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
    for x, y in spots:
        overlay.alpha_composite(mark_image, dest=(x - left, y - top))
    return (left, top), overlay


def composite(frame: Image.Image, overlay: Image.Image, origin: tuple[int, int]) -> Image.Image:
    """``overlay`` composited onto ``frame`` (L, LA, RGB or RGBA) at ``origin``, in place."""
    if frame.mode == "RGBA":
        frame.alpha_composite(overlay, dest=origin)
        return frame
    box = (origin[0], origin[1], origin[0] + overlay.width, origin[1] + overlay.height)
    region = frame.crop(box).convert("RGBA")
    region.alpha_composite(overlay)
    frame.paste(region.convert(frame.mode), box)
    return frame


def watermark_picture(picture: Picture, resources: WatermarkResources) -> Picture:
    """The picture, upright, with every mark composited onto every frame."""
    originals = picture.frames
    picture = cmyk_to_rgb(upright(picture))
    frames = [editable(frame) for frame in picture.frames]
    if picture.shared:  # other branches read these frames: draw on copies
        frames = [f.copy() if any(f is o for o in originals) else f for f in frames]
    size = frames[0].size
    for prepared in resources.marks:
        mark_image = render_mark(prepared, size[0])
        built = build_overlay(size, mark_image, placements(prepared.mark, size, mark_image.size))
        if built is None:
            continue
        origin, overlay = built
        frames = [composite(frame, overlay, origin) for frame in frames]
    return replace(picture, frames=tuple(frames), shared=False)


async def watermark(ctx: StepContext) -> None:
    """The watermark step."""
    params: WatermarkParams = ctx.params
    resources = ctx.resources if ctx.resources is not None else _text_only(params)
    async for frame in ctx.input:
        picture = expect_picture(frame, ctx.name)
        marked = await run_cpu(watermark_picture, picture, resources)
        for note in marked.notes[len(picture.notes) :]:
            ctx.log.warning("watermark: %s", note)
        await ctx.write(marked)


def _render_text(prepared: PreparedText, picture_width: int) -> Image.Image:
    mark = prepared.mark
    pixels = max(MIN_TEXT_PX, round(mark.size * picture_width))
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    if prepared.font_data is not None:
        font = ImageFont.truetype(io.BytesIO(prepared.font_data), pixels)
    else:
        font = ImageFont.load_default(size=pixels)
    stroke = round(mark.stroke * pixels)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.multiline_textbbox(
        (0, 0), mark.text, font=font, stroke_width=stroke
    )
    image = Image.new(
        "RGBA", (max(1, int(right - left)), max(1, int(bottom - top))), (*mark.color, 0)
    )
    ImageDraw.Draw(image).multiline_text(
        (-left, -top),
        mark.text,
        font=font,
        fill=(*mark.color, 255),
        stroke_width=stroke,
        stroke_fill=(*mark.stroke_color, 255),
    )
    return image


def _anchored(
    position: Anchor, picture_size: tuple[int, int], mark_size: tuple[int, int], margin: int
) -> tuple[int, int]:
    horizontal, vertical = _ANCHORS[position]
    return (
        _along(horizontal, picture_size[0], mark_size[0], margin),
        _along(vertical, picture_size[1], mark_size[1], margin),
    )


def _along(where: str, total: int, size: int, margin: int) -> int:
    if where in ("left", "top"):
        return margin
    if where in ("right", "bottom"):
        return total - size - margin
    return (total - size) // 2


def _text_only(params: WatermarkParams) -> WatermarkResources:
    prepared: list[Prepared] = []
    for index, mark in enumerate(params.marks):
        if not isinstance(mark, TextMark) or mark.font is not None:
            raise StepConfigError(
                f"watermark.marks.{index}: its file was not loaded; prepare the step first"
            )
        prepared.append(PreparedText(mark))
    return WatermarkResources(tuple(prepared))


async def _read(loader: ResourceLoader, url: str, max_bytes: int, where: str) -> bytes:
    try:
        return await loader.read(url, max_bytes=max_bytes)
    except StepConfigError as exc:
        raise StepConfigError(f"{where}: {exc.message}") from None
    except OSError as exc:
        raise StepConfigError(f"{where}: cannot read {url}: {exc}") from None


WATERMARK = StepDefinition(
    name="watermark",
    function=watermark,
    params_model=WatermarkParams,
    consumes="picture",
    produces="picture",
    setup=prepare_watermark,
    description="composite text and logo marks, sized relative to the picture width",
)
