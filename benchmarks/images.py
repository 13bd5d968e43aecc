"""Test pictures made with Pillow: a natural-looking 24 MP photo and a logo, cached on disk.

The photo has what makes real photos cost what they cost to code: smooth gradients (sky),
large shapes with soft edges (hills, sun, buildings), mid-frequency texture (foliage) and
per-pixel sensor noise. At JPEG quality 90 a 6000×4000 one is about as large as a camera's.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

#: Changes whenever the generator changes, so cached files are remade.
GENERATOR_VERSION = 1


def _gradient(
    size: tuple[int, int], top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    ramp = Image.linear_gradient("L").resize(size, Image.Resampling.BICUBIC)
    bands = []
    for start, end in zip(top, bottom, strict=True):
        bands.append(ramp.point(lambda v, a=start, b=end: round(a + (b - a) * v / 255)))
    return Image.merge("RGB", bands)


def _scene(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Shapes at a quarter of the final size (upscaled later: soft edges, like optics)."""
    width, height = size
    image = _gradient(size, (70, 120, 200), (235, 225, 210))
    draw = ImageDraw.Draw(image)
    sun_x, sun_y, radius = width * 0.75, height * 0.22, height * 0.08
    draw.ellipse((sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius), (255, 236, 180))
    for layer in range(4):
        base = height * (0.45 + 0.12 * layer)
        shade = (40 + 25 * layer, 90 + 20 * layer - 10 * layer, 50 + 10 * layer)
        points: list[tuple[float, float]] = [(0, height)]
        for step in range(0, width + 40, 40):
            points.append((step, base + rng.uniform(-0.06, 0.06) * height))
        points.append((width, height))
        draw.polygon(points, fill=shade)
    for _ in range(60):
        x, y = rng.uniform(0, width), rng.uniform(height * 0.5, height)
        w, h = rng.uniform(10, 80), rng.uniform(20, 160)
        color = tuple(rng.randrange(40, 220) for _ in range(3))
        draw.rectangle((x, y - h, x + w, y), fill=color)
    for _ in range(400):
        x, y = rng.uniform(0, width), rng.uniform(height * 0.45, height)
        length, angle = rng.uniform(10, 60), rng.uniform(-1.2, 1.2)
        tone = rng.randrange(10, 90)
        draw.line((x, y, x + length * angle, y - length), fill=(tone, tone + 30, tone), width=1)
    for _ in range(300):
        x, y = rng.uniform(0, width), rng.uniform(height * 0.55, height)
        r = rng.uniform(3, 18)
        color = (rng.randrange(20, 80), rng.randrange(80, 160), rng.randrange(20, 70))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    return image.filter(ImageFilter.GaussianBlur(1.2))


def make_photo(width: int = 6000, height: int = 4000, *, seed: int = 7) -> Image.Image:
    """A natural-looking RGB photo of ``width × height`` pixels."""
    rng = random.Random(seed)
    image = _scene((width // 4, height // 4), rng).resize((width, height), Image.Resampling.BICUBIC)
    texture = Image.effect_noise((width // 6, height // 6), 22).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    grain = Image.effect_noise((width, height), 6)
    detail = ImageChops.add(texture, grain, scale=1.0, offset=-128)
    bands = [ImageChops.add(band, detail, scale=1.0, offset=-128) for band in image.split()]
    return Image.merge("RGB", bands)


def photo_jpeg(cache: Path, width: int = 6000, height: int = 4000, quality: int = 90) -> Path:
    """The photo as a JPEG file (made once, then reused from ``cache``)."""
    path = cache / f"photo-{width}x{height}-q{quality}-v{GENERATOR_VERSION}.jpg"
    if not path.exists():
        image = make_photo(width, height)
        exif = Image.Exif()
        exif[0x0112] = 1  # Orientation: upright
        exif[0x010F] = "Bench"  # Make
        exif[0x0110] = "Synthetic 24MP"  # Model
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(buffer.getvalue())
        temporary.replace(path)
    return path


def logo_png(cache: Path) -> Path:
    """A 600×200 RGBA logo with transparency."""
    path = cache / f"logo-v{GENERATOR_VERSION}.png"
    if not path.exists():
        logo = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
        draw = ImageDraw.Draw(logo)
        draw.rounded_rectangle((4, 4, 596, 196), radius=40, fill=(20, 60, 140, 220))
        draw.ellipse((30, 30, 170, 170), fill=(250, 200, 40, 255))
        draw.text((200, 60), "LOGO", fill=(255, 255, 255, 255), font_size=90)
        temporary = path.with_suffix(".tmp")
        logo.save(temporary, "PNG")
        temporary.replace(path)
    return path
