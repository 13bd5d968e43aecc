"""Sample images for the demo, generated in code (no binary files in the repository)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw


@dataclass(frozen=True)
class Sample:
    """One demo object: its key, bytes, and what it is meant to show."""

    key: str
    data: bytes
    description: str


def landscape(width: int, height: int, *, seed: int = 0) -> Image.Image:
    """A natural-looking RGB picture: sky gradient, hills, sun, and fine texture."""
    sky = Image.linear_gradient("L").resize((width, height))
    base = Image.merge(
        "RGB",
        (
            sky.point(lambda v: 70 + v // 3),
            sky.point(lambda v: 120 + v // 3),
            sky.point(lambda v: 230 - v // 4),
        ),
    )
    draw = ImageDraw.Draw(base)
    for layer in range(3):
        colour = (40 + 30 * layer, 110 - 20 * layer, 50 + 10 * layer)
        points = [
            (
                x,
                int(
                    height * (0.55 + 0.12 * layer)
                    + height * 0.06 * math.sin((x / width) * (3 + layer) * math.pi + seed + layer)
                ),
            )
            for x in range(0, width + 64, 64)
        ]
        draw.polygon([*points, (width, height), (0, height)], fill=colour)
    radius = max(8, width // 20)
    centre = (int(width * 0.75), int(height * 0.2))
    draw.ellipse(
        [centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius],
        fill=(255, 220, 120),
    )
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    return Image.blend(base, noise, 0.12)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _rotated_jpeg() -> bytes:
    """A portrait scene stored sideways with EXIF orientation 6 (rotate 90° clockwise)."""
    upright = landscape(1200, 1800, seed=2)
    ImageDraw.Draw(upright).rectangle([0, 0, 300, 200], fill=(220, 30, 30))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encode(stored, "JPEG", quality=90, exif=exif.tobytes())


def _alpha_png() -> bytes:
    image = Image.new("RGBA", (900, 600), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([50, 50, 850, 550], radius=80, fill=(30, 140, 220, 200))
    draw.ellipse([300, 150, 600, 450], fill=(250, 250, 250, 255))
    return _encode(image, "PNG")


def _animated_gif() -> bytes:
    frames = []
    for index in range(6):
        frame = Image.new("RGB", (320, 240), (20, 20, 40))
        x = 20 + index * 45
        ImageDraw.Draw(frame).ellipse([x, 90, x + 60, 150], fill=(250, 200, 40))
        frames.append(frame.convert("P", palette=Image.Palette.ADAPTIVE))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=120, loop=0)
    return buffer.getvalue()


def demo_samples(
    prefix: str = "incoming/", *, large: tuple[int, int] = (6000, 4000)
) -> list[Sample]:
    """The demo's objects: several sizes (one ≥ 24 MP), EXIF-rotated, alpha, animated, broken."""
    big = _encode(landscape(*large, seed=1), "JPEG", quality=90)
    return [
        Sample(
            f"{prefix}harbour.jpg",
            _encode(landscape(1600, 1067), "JPEG", quality=88),
            "1.7 MP JPEG",
        ),
        Sample(f"{prefix}panorama.jpg", big, f"{large[0] * large[1] / 1e6:.0f} MP JPEG"),
        Sample(f"{prefix}portrait-exif6.jpg", _rotated_jpeg(), "JPEG stored sideways, EXIF 6"),
        Sample(f"{prefix}logo-alpha.png", _alpha_png(), "PNG with transparency"),
        Sample(f"{prefix}spinner.gif", _animated_gif(), "animated GIF, 6 frames"),
        Sample(f"{prefix}broken.jpg", big[: len(big) // 3], "JPEG cut off after a third"),
    ]
