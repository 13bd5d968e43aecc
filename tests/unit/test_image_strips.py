"""Pictures in strips: strip-wise results equal whole-picture results, and strips stream."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest
from PIL import Image, ImageChops, ImageMath

import steps
from steps.cpu import run_cpu
from steps.errors import StripOrderError
from steps.image import (
    DecodeParams,
    Picture,
    PictureStrip,
    StripAssembler,
    compress_picture,
    decode_bytes,
    split_picture,
    watermark_picture,
)
from steps.image.codec.jpeg_strips import JpegStripWriter
from steps.image.codec.modes import resizable
from steps.image.ops import compress as compress_module
from steps.image.ops import resize as resize_module
from steps.image.ops.compress import UNBOUNDED, CompressParams, resize_frame, resize_plan
from steps.image.ops.resize import StripResizer
from steps.image.ops.watermark import picture_overlays, watermark_strip
from steps.image.picture import upright
from steps.image.strips import crop_strip, pixel_bytes, strip_rows
from tests.support.fakes import MemorySink
from tests.support.images import encode, noise, open_bytes, oriented_jpeg
from tests.unit.test_image_pipeline import ChunkSource, planned, run
from tests.unit.test_image_watermark import prepared

MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]
#: (source size, fit box): shrinks by various ratios, odd heights, thin strips, no reduction.
SIZES = [
    ((640, 481), (100, 100)),
    ((301, 403), (151, 1000)),
    ((333, 257), (330, 330)),
    ((999, 125), (97, 97)),
    ((97, 1003), (50, 1000)),
    ((1200, 900), (1200, 899)),
]
FILTERS = ["lanczos", "bicubic", "bilinear", "hamming", "box", "nearest"]
_PREMULTIPLIED = {"LA": "La", "RGBA": "RGBa", "PA": "RGBa"}


def sample(mode: str, size: tuple[int, int]) -> Image.Image:
    """Smooth gradients plus noise, in ``mode``; alpha that varies across the picture."""
    grain = Image.effect_noise(size, 40).convert("L")
    ramp = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    rgba = Image.merge(
        "RGBA", [grain, ramp, radial, ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    )
    if mode == "I;16":
        wide = ImageMath.lambda_eval(lambda e: e["g"] * 257, g=grain.convert("I"))
        assert isinstance(wide, Image.Image)
        return wide.convert("I;16")
    if mode == "PA":
        return rgba.convert("P").convert("PA")
    return rgba.convert(mode)


def max_difference(a: Image.Image, b: Image.Image) -> int:
    """Largest absolute difference of any channel.

    Pictures with alpha are resampled premultiplied (as Pillow does), and are compared so: once
    unpremultiplied, a difference of 1 in a nearly transparent pixel's colour grows up to 255.
    """
    assert a.size == b.size and a.mode == b.mode
    worst = 0
    for x, y in zip(a.split(), b.split(), strict=True):
        diff = ImageMath.lambda_eval(
            lambda e: abs(e["x"] - e["y"]), x=x.convert("I"), y=y.convert("I")
        )
        worst = max(worst, int(diff.getextrema()[1]))
    return worst


def resized_in_strips(
    image: Image.Image, target: tuple[int, int], resample: str, rows: int, source_rows: int
) -> Image.Image:
    """``image`` resized by feeding a StripResizer source strips of ``source_rows``."""
    plan = resize_plan(image, target, resample)
    resizer = StripResizer(plan, rows)
    source = resizable(image)
    parts: list[tuple[int, Image.Image]] = []
    for top in range(0, image.height, source_rows):
        band = source.crop((0, top, image.width, min(image.height, top + source_rows)))
        for job in resizer.add(top, (band,)):
            parts.append((job.top, job.run()[0]))
    assert resizer.finished
    out = Image.new(parts[0][1].mode, target)
    for top, part in parts:
        out.paste(part, (0, top))
    return out


@pytest.mark.parametrize("mode", MODES)
def test_strip_resize_equals_whole_resize_in_every_mode(mode: str) -> None:
    for (size, box), resample in zip(SIZES, FILTERS, strict=True):
        image = sample(mode, size)
        if mode in _PREMULTIPLIED:  # compared as resampled: premultiplied (see max_difference)
            image = resizable(image).convert(_PREMULTIPLIED[mode])
        target = compress_module.fit_within(size, box)
        whole = resize_frame(image, target, resample)
        for rows, source_rows in ((16, 37), (48, 200), (32, size[1])):
            strips = resized_in_strips(image, target, resample, rows, source_rows)
            assert max_difference(strips, whole) <= 1, (mode, size, target, resample, rows)


@pytest.mark.parametrize("resample", FILTERS)
def test_strip_resize_with_integer_reduction(resample: str) -> None:
    image = sample("RGB", (1601, 1203))  # shrunk 16×: Pillow's reducing_gap reduces by 5 first
    target = compress_module.fit_within(image.size, (100, 100))
    assert resize_plan(image, target, resample).factor == (
        (5, 5) if resample != "nearest" else (1, 1)
    )
    whole = resize_frame(image, target, resample)
    assert max_difference(resized_in_strips(image, target, resample, 16, 91), whole) <= 1


@pytest.mark.parametrize("band_bytes", [1, 5000])
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "I;16", "F"])
def test_strip_resize_with_the_horizontal_pass_in_bands(
    monkeypatch: pytest.MonkeyPatch, mode: str, band_bytes: int
) -> None:
    """A job copies its window a band of rows at a time; the result does not change."""
    monkeypatch.setattr(resize_module, "BAND_BYTES", band_bytes)
    for (size, box), resample in [
        (((640, 481), (100, 100)), "lanczos"),  # reduced first (factor 2)
        (((301, 403), (151, 1000)), "bicubic"),
        (((999, 125), (97, 97)), "nearest"),
        (((1601, 1203), (100, 100)), "box"),  # reduced 5×: bands of 5 rows at least
    ]:
        image = sample(mode, size)
        if mode in _PREMULTIPLIED:
            image = resizable(image).convert(_PREMULTIPLIED[mode])
        target = compress_module.fit_within(size, box)
        whole = resize_frame(image, target, resample)
        strips = resized_in_strips(image, target, resample, 16, 37)
        assert max_difference(strips, whole) <= 1, (mode, size, resample, band_bytes)


def test_whole_resize_matches_pillow_on_a_photo() -> None:
    photo = open_bytes(encode(noise((1500, 1000)), "JPEG", quality=90)).convert("RGB")
    smooth = photo.resize((750, 500), Image.Resampling.BOX).resize(
        (1500, 1000), Image.Resampling.BILINEAR
    )
    ours = resize_frame(smooth, (1024, 683), "lanczos")
    pillow = smooth.resize((1024, 683), Image.Resampling.LANCZOS, reducing_gap=3.0)
    assert max_difference(ours, pillow) <= 1


def test_compress_step_on_strips_equals_compress_picture() -> None:
    image = sample("RGB", (1200, 801))
    data = encode(image, "PNG")
    params = {"max_width": 500, "max_height": 500, "format": "png"}
    result = anyio.run(_run_steps, data, [("compress", params)])
    whole = compress_picture(decode_bytes(data), CompressParams.model_validate(params))
    assert max_difference(open_bytes(result).convert("RGB"), whole.image) <= 1


def test_watermark_on_strips_equals_watermark_on_the_picture() -> None:
    resources = prepared(
        {
            "marks": [
                {"text": "© Example", "size": 0.2, "position": "center"},
                {"text": "tile", "repeat": "diagonal", "opacity": 0.3},
            ]
        }
    )
    for mode in ("RGB", "RGBA", "L", "LA", "P", "CMYK"):
        image = sample(mode, (401, 333))
        picture = Picture(frames=(image.copy(),), source_format="PNG")
        whole = watermark_picture(picture, resources)  # marks its frames in place
        overlays = picture_overlays(resources, picture.size)
        assembler = StripAssembler()
        assembled = None
        for strip in split_picture(Picture(frames=(image,), source_format="PNG"), rows=48):
            assembled = assembler.add(watermark_strip(strip, overlays))
        assert assembled is not None
        assert (
            ImageChops.difference(
                assembled.image.convert("RGBA"), whole.image.convert("RGBA")
            ).getbbox()
            is None
        ), mode


def test_orientation_is_applied_before_strips() -> None:
    data = oriented_jpeg(6, (320, 200))  # stored 200 × 320, upright 320 × 200
    assert decode_bytes(data).size == (200, 320)
    strips = list(split_picture(decode_bytes(data), rows=16))
    assert strips[0].size == (320, 200) and all(s.picture.orientation == 1 for s in strips)
    out = anyio.run(_run_steps, data, [("compress", {"max_width": 100, "format": "png"})])
    # decoded as the pipeline decodes it (shrink-on-load for the box), then set upright whole
    upright_whole = upright(decode_bytes(data, DecodeParams(target_size=(100, UNBOUNDED))))
    whole = compress_picture(upright_whole, CompressParams(max_width=100, format="png"))
    assert open_bytes(out).size == whole.size == (100, 62)
    assert max_difference(open_bytes(out).convert("RGB"), whole.image.convert("RGB")) <= 1


@pytest.mark.parametrize(
    ("mode", "size", "rows"),
    [
        ("RGB", (640, 480), 160),
        ("RGB", (517, 301), 37),
        ("L", (333, 257), 48),
        ("RGB", (100, 7), 16),
    ],
)
def test_jpeg_written_in_strips_decodes_to_the_whole_jpeg(
    mode: str, size: tuple[int, int], rows: int
) -> None:
    image = sample(mode, size)
    args: dict[str, Any] = {
        "format": "JPEG",
        "quality": 80,
        "exif": b"Exif\x00\x00" + Image.Exif().tobytes(),
    }
    writer = JpegStripWriter(size, args)
    data = b"".join(
        writer.add(image.crop((0, top, size[0], min(size[1], top + rows))))
        for top in range(0, size[1], rows)
    )
    assert writer.finished
    whole = encode(image, "JPEG", **{k: v for k, v in args.items() if k != "format"})
    assert ImageChops.difference(open_bytes(data), open_bytes(whole)).getbbox() is None
    assert "exif" in open_bytes(data).info


def test_strips_stream_through_compress_watermark_and_encode() -> None:
    """Watermark's first strip leaves before compress's last; encode's first bytes leave before
    watermark's last strip (ordering, not timing: it follows from bounded channels)."""
    data = encode(sample("RGB", (3000, 2000)), "JPEG", quality=85)
    sink = MemorySink()
    step_list: list[tuple[str, dict[str, Any]]] = [
        ("compress", {"max_width": 2048, "max_height": 2048, "format": "jpeg", "quality": 80}),
        ("watermark", {"text": "© Example"}),
    ]
    result = anyio.run(run, ChunkSource(data), step_list, sink)
    by_name = {m.name: m for m in result.stages}
    compress, watermark, encoder = by_name["compress"], by_name["watermark"], by_name["encode"]
    assert compress.frames_out >= 5
    assert watermark.first_output_at is not None and compress.last_output_at is not None
    assert watermark.first_output_at < compress.last_output_at
    assert encoder.first_output_at is not None and watermark.last_output_at is not None
    assert encoder.first_output_at < watermark.last_output_at
    assert open_bytes(result.output).size == (2048, 1365)


def test_compress_resizes_strips_in_parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    running, most = 0, 0
    original = run_cpu

    async def counting(function: Any, *args: Any) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        try:
            return await original(function, *args)
        finally:
            running -= 1

    monkeypatch.setattr(compress_module, "run_cpu", counting)
    monkeypatch.setattr(compress_module, "cpu_limiter", lambda: anyio.CapacityLimiter(4))
    data = encode(sample("RGB", (1600, 1200)), "PNG")
    anyio.run(_run_steps, data, [("compress", {"max_width": 1000})])
    assert most >= 2


def test_compress_resizes_no_more_strips_at_once_than_cpu_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lock, running, most = threading.Lock(), 0, 0
    original = resize_module.WindowJob.run

    def counting(self: resize_module.WindowJob) -> tuple[Image.Image, ...]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return original(self)
        finally:
            with lock:
                running -= 1

    limiters: list[anyio.CapacityLimiter] = []

    def two_tokens() -> anyio.CapacityLimiter:  # one limiter, made inside the event loop
        if not limiters:
            limiters.append(anyio.CapacityLimiter(2))
        return limiters[0]

    monkeypatch.setattr(resize_module.WindowJob, "run", counting)
    monkeypatch.setattr(compress_module, "cpu_limiter", two_tokens)
    monkeypatch.setattr("steps.cpu.cpu_limiter", two_tokens)
    data = encode(sample("RGB", (1600, 1200)), "PNG")
    output = anyio.run(_run_steps, data, [("compress", {"max_width": 1000})])
    assert 1 <= most <= 2
    assert open_bytes(output).size == (1000, 750)


def test_planner_joins_and_splits_around_whole_picture_steps() -> None:
    labels = [
        s.label for s in planned([("compress", {"max_width": 10}), ("rotate", {"angle": 33})])
    ]
    assert labels == ["decode", "compress", "join", "rotate", "encode"]
    assert planned([("compress", {})])[0].params.strips is True  # type: ignore[attr-defined]
    labels = [s.label for s in planned([("rotate", {"angle": 90}), ("watermark", {"text": "x"})])]
    assert labels == ["decode", "rotate", "split", "watermark", "encode"]
    assert planned([("rotate", {"angle": 90})])[0].params.strips is False  # type: ignore[attr-defined]


def test_strip_aware_user_step() -> None:
    async def invert(ctx: steps.StepContext) -> None:
        async for strip in ctx.input:
            frames = tuple(Image.eval(frame, lambda v: 255 - v) for frame in strip.frames)
            await ctx.write(strip.with_frames(frames, strip.size))

    step = steps.StepDefinition(
        name="invert", function=invert, consumes="strips", produces="strips"
    )
    image = sample("RGB", (300, 200))
    picture = decode_bytes(encode(image, "PNG"))
    configured = [steps.configure_step(step, {})]
    labels = [s.label for s in steps.plan_steps(configured)]
    assert labels == ["decode", "invert", "encode"]
    out = anyio.run(_run_configured, encode(image, "PNG"), configured)
    assert (
        ImageChops.difference(
            open_bytes(out).convert("RGB"), Image.eval(picture.image, lambda v: 255 - v)
        ).getbbox()
        is None
    )


def test_assembler_refuses_strips_out_of_order() -> None:
    picture = Picture(frames=(sample("RGB", (50, 40)),), source_format="PNG")
    first, _second, third = (crop_strip(picture, top, min(40, top + 16)) for top in (0, 16, 32))
    assembler = StripAssembler()
    assembler.add(first)
    with pytest.raises(StripOrderError, match="row 32"):
        assembler.add(third)
    with pytest.raises(StripOrderError):
        PictureStrip(first.picture, 30, (50, 40))
    unfinished = StripAssembler()
    unfinished.add(first)
    with pytest.raises(StripOrderError, match="ended at row 16"):
        unfinished.check_finished()


async def _run_steps(data: bytes, step_list: list[tuple[str, dict[str, Any]]]) -> bytes:
    sink = MemorySink()
    result = await run(ChunkSource(data), step_list, sink)
    return result.output


async def _run_configured(data: bytes, configured: list[steps.ConfiguredStep]) -> bytes:
    from bridge import run_pipeline
    from tests.unit.test_image_pipeline import LOG

    stages = [ChunkSource(data).stage()] + [
        steps.to_stage(s, LOG) for s in steps.plan_steps(configured)
    ]
    result = await run_pipeline(stages, MemorySink())
    return result.output


def test_decode_cuts_bands_for_a_step_that_does_not_shrink() -> None:
    image = sample("RGB", (1200, 901))
    data = encode(image, "PNG")
    sink = MemorySink()
    step_list: list[tuple[str, dict[str, Any]]] = [("watermark", {"text": "© Example"})]
    result = anyio.run(run, ChunkSource(data), step_list, sink)
    by_name = {m.name: m for m in result.stages}
    # 208-row bands of a 1200 × 901 RGB picture: about 1 MiB as Pillow holds it (4 bytes a pixel)
    assert strip_rows(1200, pixel_bytes("RGB")) == 208
    assert by_name["decode"].frames_out == 5
    whole = watermark_picture(decode_bytes(data), prepared({"text": "© Example"}))
    assert ImageChops.difference(open_bytes(result.output), whole.image).getbbox() is None


def test_watermark_never_draws_on_a_shared_picture() -> None:
    image = sample("RGB", (300, 200))
    shared = Picture(frames=(image,), source_format="PNG", shared=True)
    before = image.copy()
    resources = prepared({"text": "© Example", "size": 0.3, "position": "center"})
    overlays = picture_overlays(resources, shared.size)
    (whole,) = split_picture(shared, rows=200)  # one strip: the shared frames themselves
    assert whole.picture.shared and whole.frames[0] is image
    marked = watermark_strip(whole, overlays)
    assert not marked.picture.shared
    assert ImageChops.difference(image, before).getbbox() is None
    assert ImageChops.difference(marked.frames[0], before).getbbox() is not None
    bands = list(split_picture(shared, rows=64))  # cut bands are copies: no longer shared
    assert not any(band.picture.shared for band in bands)
