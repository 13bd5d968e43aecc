"""The plain ways of doing the image job, written as a user would: whole files, Pillow, boto3.

``naive_process`` is the usual script (open, load, exif_transpose, resize, paste, save).
``staged_compress`` and ``staged_watermark`` are two serverless-style functions chained
through an intermediate object: each downloads a whole object, works, uploads a whole object.
Marks are drawn like the pipeline's watermark step draws them (same sizes and places), so the
outputs can be compared.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_SIZE = 2048
QUALITY = 80
TEXT = "© Example Photos"
TEXT_SIZE = 0.05
LOGO_WIDTH = 0.15
MARGIN = 0.02
OPACITY = 0.5


@dataclass(frozen=True)
class Marks:
    """What to draw: a text mark at the bottom right, an optional logo at the top left."""

    text: str = TEXT
    logo: Path | None = None


def compress_params() -> dict[str, Any]:
    """The pipeline's ``compress`` step parameters for the same job."""
    return {"max_width": MAX_SIZE, "max_height": MAX_SIZE, "format": "jpeg", "quality": QUALITY}


def watermark_params(marks: Marks) -> dict[str, Any]:
    """The pipeline's ``watermark`` step parameters for the same marks."""
    text = {
        "text": marks.text,
        "position": "bottom-right",
        "opacity": OPACITY,
        "size": TEXT_SIZE,
        "margin": MARGIN,
    }
    if marks.logo is None:
        return text
    logo = {
        "image": str(marks.logo),
        "position": "top-left",
        "opacity": OPACITY,
        "width": LOGO_WIDTH,
        "margin": MARGIN,
    }
    return {"marks": [text, logo]}


def with_opacity(image: Image.Image, opacity: float = OPACITY) -> Image.Image:
    """``image`` (RGBA) with its alpha scaled by ``opacity``."""
    image.putalpha(image.getchannel("A").point(lambda a: round(a * opacity)))
    return image


def text_mark(text: str, picture_width: int) -> Image.Image:
    """The text, white, as an RGBA image fitted to its bounding box."""
    font = ImageFont.load_default(size=max(6, round(TEXT_SIZE * picture_width)))
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGBA", (1, 1))).multiline_textbbox(
        (0, 0), text, font=font
    )
    mark = Image.new("RGBA", (int(right - left), int(bottom - top)), (255, 255, 255, 0))
    ImageDraw.Draw(mark).multiline_text((-left, -top), text, font=font, fill=(255, 255, 255, 255))
    return with_opacity(mark)


def logo_mark(logo: Image.Image, picture_width: int) -> Image.Image:
    """The logo resized to its share of the picture width."""
    width = max(1, round(LOGO_WIDTH * picture_width))
    height = max(1, round(logo.height * width / logo.width))
    return with_opacity(logo.convert("RGBA").resize((width, height), Image.Resampling.LANCZOS))


def mark_layers(marks: Marks, size: tuple[int, int]) -> list[tuple[Image.Image, tuple[int, int]]]:
    """Each mark image and its top-left corner on a picture of ``size``."""
    width, height = size
    margin = round(MARGIN * width)
    text = text_mark(marks.text, width)
    layers = [(text, (width - text.width - margin, height - text.height - margin))]
    if marks.logo is not None:
        with Image.open(marks.logo) as logo:
            layers.append((logo_mark(logo, width), (margin, margin)))
    return layers


def fit(size: tuple[int, int], limit: int = MAX_SIZE) -> tuple[int, int]:
    """``size`` scaled to fit in ``limit × limit`` (never enlarged)."""
    scale = min(limit / size[0], limit / size[1], 1.0)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def resize(image: Image.Image) -> Image.Image:
    """Set upright and fit in 2048 × 2048 with Lanczos (what ``Image.thumbnail`` does here).

    ``exif_transpose`` works in place: without ``in_place`` it copies the whole picture even
    when it is upright already.
    """
    ImageOps.exif_transpose(image, in_place=True)
    upright = image
    if upright.mode != "RGB":
        upright = upright.convert("RGB")
    return upright.resize(fit(upright.size), Image.Resampling.LANCZOS)


def paste_marks(image: Image.Image, marks: Marks) -> Image.Image:
    """Paste every mark onto ``image`` through its own alpha."""
    for layer, corner in mark_layers(marks, image.size):
        image.paste(layer, corner, layer)
    return image


def jpeg_bytes(image: Image.Image) -> bytes:
    """``image`` as a JPEG of quality 80."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def naive_process(source: Path, destination: Path, marks: Marks) -> None:
    """Open, load, exif_transpose, resize, paste, save."""
    with Image.open(source) as image:
        image.load()
        out = paste_marks(resize(image), marks)
    out.save(destination, "JPEG", quality=QUALITY)


def _get(client: S3Client, bucket: str, key: str) -> bytes:
    data: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def staged_compress(client: S3Client, bucket: str, key: str, intermediate: str) -> None:
    """Function 1: download the original, fit it in 2048, upload the intermediate JPEG."""
    with Image.open(io.BytesIO(_get(client, bucket, key))) as image:
        image.load()
        body = jpeg_bytes(resize(image))
    client.put_object(Bucket=bucket, Key=intermediate, Body=body, ContentType="image/jpeg")


def staged_watermark(
    client: S3Client, bucket: str, intermediate: str, output: str, marks: Marks
) -> None:
    """Function 2: download the intermediate, draw the marks, upload the result."""
    with Image.open(io.BytesIO(_get(client, bucket, intermediate))) as image:
        image.load()
        body = jpeg_bytes(paste_marks(image, marks))
    client.put_object(Bucket=bucket, Key=output, Body=body, ContentType="image/jpeg")
