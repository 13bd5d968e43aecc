"""SSIM of two pictures with Pillow alone (numpy is not a dependency of the project).

Luma (Rec. 601, Pillow's ``L``) as 32-bit float images; the local means, variances and
covariance come from 8×8 uniform windows computed with ``Image.reduce`` (a box average), on
four grids shifted by half a window, so windows overlap with stride 4. The SSIM map is
computed with ``ImageMath`` and averaged with a box resize. Constants are Wang et al.'s
(K1 = 0.01, K2 = 0.03, L = 255).
"""

from __future__ import annotations

from PIL import Image, ImageMath

WINDOW = 8
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
METHOD = "luma SSIM, 8×8 uniform windows at stride 4, Pillow F-mode box reduce (no numpy)"


def _mean(image: Image.Image) -> float:
    value = image.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(value, float)
    return value


def _grid_ssim(x: Image.Image, y: Image.Image) -> float:
    def product(a: Image.Image, b: Image.Image) -> Image.Image:
        return ImageMath.lambda_eval(lambda v: v["a"] * v["b"], a=a, b=b)  # type: ignore[no-any-return]

    mx, my = x.reduce(WINDOW), y.reduce(WINDOW)
    xx, yy, xy = (
        product(x, x).reduce(WINDOW),
        product(y, y).reduce(WINDOW),
        product(x, y).reduce(WINDOW),
    )
    ssim_map = ImageMath.lambda_eval(
        lambda v: (
            ((2 * v["mx"] * v["my"] + C1) * (2 * (v["xy"] - v["mx"] * v["my"]) + C2))
            / (
                (v["mx"] * v["mx"] + v["my"] * v["my"] + C1)
                * ((v["xx"] - v["mx"] * v["mx"]) + (v["yy"] - v["my"] * v["my"]) + C2)
            )
        ),
        mx=mx,
        my=my,
        xx=xx,
        yy=yy,
        xy=xy,
    )
    assert isinstance(ssim_map, Image.Image)
    return _mean(ssim_map)


def ssim(first: Image.Image, second: Image.Image) -> float:
    """SSIM of two pictures of the same size (1.0: identical)."""
    if first.size != second.size:
        raise ValueError(f"sizes differ: {first.size} vs {second.size}")
    x = first.convert("L").convert("F")
    y = second.convert("L").convert("F")
    scores = []
    half = WINDOW // 2
    for dx in (0, half):
        for dy in (0, half):
            box = (dx, dy, x.width - (x.width - dx) % WINDOW, y.height - (y.height - dy) % WINDOW)
            scores.append(_grid_ssim(x.crop(box), y.crop(box)))
    return sum(scores) / len(scores)
