"""image.metadata policies in every image workflow, compress to GIF, broken animations."""

from __future__ import annotations

import io
import logging
import struct
from typing import Any

import anyio
import pytest
from PIL import Image

from bridge import Stage, StageContext, StageFailed, StageMetrics, run_pipeline
from steps import to_stage
from steps.errors import TruncatedImage
from steps.image.codec.exif import parse_exif, remove_gps
from steps.image.codec.metadata import xmp_without_gps
from tests.support.engine import flows
from tests.support.fakes import MemorySink
from tests.support.images import animated_gif, encode, marker_image, png_chunk, srgb_profile
from trigger_service.errors import WorkflowConfigError
from trigger_service.records import StepRecord
from trigger_service.workflows.model import Workflow

LOG = logging.LoggerAdapter(logging.getLogger("test"), {})
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/" exif:GPSLatitude="48,51.5N" '
    b"exif:GPSLongitude='2,17.6E' dc:format=\"image/jpeg\"><exif:GPSAltitude>35/1"
    b"</exif:GPSAltitude><dc:rights>(c) Example</dc:rights></rdf:Description></rdf:RDF>"
    b"</x:xmpmeta>"
)


def photo_with_everything() -> bytes:
    """A JPEG with EXIF (make, copyright, GPS), XMP with GPS, and an ICC profile."""
    exif = Image.Exif()
    exif[0x010F] = "Bucketstream Camera"
    exif[0x8298] = "(c) Example"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.0)
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    return encode(
        marker_image((80, 60)), "JPEG", quality=90, exif=exif, icc_profile=srgb_profile(), xmp=XMP
    )


def workflow(steps: list[Any], image: dict[str, Any] | None = None) -> Workflow:
    spec: dict[str, Any] = {
        "trigger": {"bucket": "photos", "prefix": "in/"},
        "steps": steps,
        "output": {"bucket": "photos", "key": "out/{name}"},
    }
    if image is not None:
        spec["image"] = image
    return flows({"w": spec}).get("w")


async def run(flow: Workflow, data: bytes) -> tuple[bytes, list[StageMetrics]]:
    async def source(ctx: StageContext) -> None:
        for start in range(0, len(data), 4096):
            await ctx.write(data[start : start + 4096])

    planned = flow.planned_steps()
    stages = [Stage("read", source), *(to_stage(step, LOG) for step in planned)]
    metrics = [StageMetrics(stage.name) for stage in stages] + [StageMetrics("write")]
    result = await run_pipeline(stages, MemorySink(name="write"), metrics=metrics)
    return result.output, metrics


def output(flow: Workflow, data: bytes) -> Image.Image:
    out, _ = anyio.run(run, flow, data)
    return Image.open(io.BytesIO(out))


WATERMARK = {"watermark": {"text": "x", "opacity": 0.3}}


@pytest.mark.parametrize("steps", [[WATERMARK], [{"rotate": {"angle": 90}}], ["compress"]])
def test_default_keeps_icc_and_drops_exif_and_xmp(steps: list[Any]) -> None:
    image = output(workflow(steps), photo_with_everything())
    assert image.info.get("icc_profile") == srgb_profile()
    assert "exif" not in image.info and "xmp" not in image.info


@pytest.mark.parametrize("steps", [[WATERMARK], [{"rotate": {"angle": 90}}], ["compress"]])
def test_keep_keeps_everything_in_any_image_workflow(steps: list[Any]) -> None:
    image = output(workflow(steps, {"metadata": "keep"}), photo_with_everything())
    exif = image.getexif()
    assert exif[0x8298] == "(c) Example"
    assert exif.get_ifd(0x8825)[1] == "N"
    assert b"GPSLatitude" in image.info["xmp"]
    assert image.info.get("icc_profile") == srgb_profile()


@pytest.mark.parametrize("steps", [[WATERMARK], [{"rotate": {"angle": 180}}]])
def test_strip_gps_keeps_the_rest(steps: list[Any]) -> None:
    image = output(workflow(steps, {"metadata": "strip-gps"}), photo_with_everything())
    exif = image.getexif()
    assert exif[0x010F] == "Bucketstream Camera" and exif[0x8298] == "(c) Example"
    assert 0x8825 not in exif and not exif.get_ifd(0x8825)
    xmp = image.info["xmp"]
    assert b"GPS" not in xmp and b"(c) Example" in xmp and b'dc:format="image/jpeg"' in xmp
    assert image.info.get("icc_profile") == srgb_profile()


def test_strip_drops_the_profile_too() -> None:
    image = output(workflow([WATERMARK], {"metadata": "strip"}), photo_with_everything())
    assert not {"exif", "xmp", "icc_profile"} & set(image.info)


def test_compress_strip_metadata_overrides_the_workflow_policy() -> None:
    flow = workflow([{"compress": {"strip_metadata": "none"}}], {"metadata": "strip"})
    assert output(flow, photo_with_everything()).getexif()[0x8298] == "(c) Example"


def test_unknown_policy_fails_at_load_naming_the_field() -> None:
    with pytest.raises(WorkflowConfigError, match=r"image: .*metadata"):
        workflow([WATERMARK], {"metadata": "maybe"})


def test_gps_bytes_are_gone_not_just_unlinked() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 29.0)
    raw = exif.tobytes()
    cleaned = remove_gps(raw.removeprefix(b"Exif\x00\x00"))
    assert parse_exif(cleaned).raw == cleaned  # still valid
    assert struct.pack("<II", 48, 1) in raw and struct.pack("<II", 48, 1) not in cleaned
    assert remove_gps(cleaned) == cleaned


def test_xmp_without_gps_keeps_other_properties() -> None:
    cleaned = xmp_without_gps(XMP)
    assert b"GPS" not in cleaned and b"dc:rights" in cleaned and b"dc:format" in cleaned


def test_compress_writes_gif() -> None:
    flow = workflow([{"compress": {"format": "gif", "max_width": 40}}])
    assert flow.content_type == "image/gif"
    image = output(flow, photo_with_everything())
    assert image.format == "GIF" and image.size == (40, 30)
    with pytest.raises(WorkflowConfigError, match="not to gif"):
        workflow([{"compress": {"format": "gif", "quality": 50}}])


def apng(colours: tuple[str, ...] = ("red", "green", "blue")) -> bytes:
    frames = [Image.new("RGB", (32, 24), c) for c in colours]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=100)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos : pos + 12 + length]))
        pos += 12 + length
    return chunks


def broken_apngs() -> dict[str, bytes]:
    data = apng()
    chunks = png_chunks(data)
    fctl = [i for i, (kind, _) in enumerate(chunks) if kind == b"fcTL"]
    whole = [c for _, c in chunks]
    first, second = whole[fctl[1] : fctl[2]], whole[fctl[2] : -1]

    def build(parts: list[bytes]) -> bytes:
        return data[:8] + b"".join(parts)

    return {
        "out-of-order": build(whole[: fctl[1]] + second + first + whole[-1:]),
        "missing": build([c for i, c in enumerate(whole) if i != fctl[2]]),
        "repeated": build(whole[: fctl[2]] + first + whole[fctl[2] :]),
        "frame-count-wrong": build(
            [
                png_chunk(b"acTL", struct.pack(">II", 9, 0)) if kind == b"acTL" else c
                for kind, c in chunks
            ]
        ),
    }


@pytest.mark.parametrize("name", sorted(broken_apngs()))
def test_broken_apng_falls_back_to_its_default_image(name: str) -> None:
    out, metrics = anyio.run(run, workflow([WATERMARK]), broken_apngs()[name])
    image = Image.open(io.BytesIO(out))
    assert image.format == "PNG" and not getattr(image, "is_animated", False)
    assert image.convert("RGB").getpixel((0, 0)) == (255, 0, 0)  # the red default image
    decode = StepRecord.from_metrics(next(m for m in metrics if m.name == "decode"))
    assert decode.status == "succeeded"
    assert len(decode.warnings) == 1 and "first frame was used as a still" in decode.warnings[0]


def test_a_cut_apng_is_still_truncated() -> None:
    data = apng()
    with pytest.raises(StageFailed) as caught:
        anyio.run(run, workflow([WATERMARK]), data[: len(data) - 40])
    assert isinstance(caught.value.error, TruncatedImage)


def test_gif_with_a_broken_later_frame_falls_back() -> None:
    data = bytearray(animated_gif((100, 100, 100)))
    control = data.find(b"\x21\xf9\x04", data.find(b"\x21\xf9\x04") + 1)
    descriptor = control + 8
    assert data[descriptor] == 0x2C
    packed = data[descriptor + 9]
    table = 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0
    data[descriptor + 10 + table] = 0x0C  # LZW minimum code size 12: over GIF's limit of 8
    out, metrics = anyio.run(run, workflow([WATERMARK]), bytes(data))
    assert Image.open(io.BytesIO(out)).format == "GIF"
    decode = StepRecord.from_metrics(next(m for m in metrics if m.name == "decode"))
    assert decode.warnings and "GIF animation is broken at frame 2" in decode.warnings[0]
