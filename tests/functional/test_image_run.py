"""An image workflow end to end: ``bucketstream run`` against the moto server."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from PIL import Image

from trigger_service.cli.commands import main

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

WORKFLOW = """
workflows:
  photos:
    trigger: {{bucket: {bucket}, prefix: "incoming/", suffix: [".jpg"]}}
    steps:
      - compress: {{max_width: 400, max_height: 400, format: webp, quality: 80}}
      - watermark:
          marks:
            - {{text: "© Example", position: bottom-right, opacity: 0.5}}
            - {{image: "s3://{bucket}/assets/logo.png", width: 0.2, position: top-left,
               opacity: 1, margin: 0}}
    output: {{bucket: {bucket}, key: "processed/{{stem}}.{{ext}}"}}
"""


def _jpeg(size: tuple[int, int], orientation: int) -> bytes:
    image = Image.effect_noise(size, 30).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def config(tmp_path: Path, bucket: str, s3: S3Client) -> Path:
    logo = Image.new("RGBA", (100, 50), (255, 0, 0, 255))
    s3.put_object(Bucket=bucket, Key="assets/logo.png", Body=_png(logo))
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOW.format(bucket=bucket))
    return path


def _run(config: Path, endpoint: str, url: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(config), "--workflow", "photos", "--endpoint-url", endpoint, url],
    )
    return result.exit_code, json.loads(result.stdout)


def test_photo_is_compressed_watermarked_and_upright(
    s3: S3Client, bucket: str, config: Path, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/photo.jpg", Body=_jpeg((1800, 1200), 6))
    code, record = _run(config, moto_endpoint, f"s3://{bucket}/incoming/photo.jpg")
    assert code == 0, record
    assert record["status"] == "succeeded"
    output = record["output"]
    assert isinstance(output, dict) and output["key"] == "processed/photo.webp"
    body = s3.get_object(Bucket=bucket, Key="processed/photo.webp")["Body"].read()
    image = Image.open(io.BytesIO(body))
    assert image.format == "WEBP"
    assert image.size == (267, 400)  # stored 1800 × 1200 with orientation 6: upright portrait
    red, green, blue = image.convert("RGB").getpixel((20, 10))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60  # the logo, top-left


def test_bad_image_fails_and_writes_nothing(
    s3: S3Client, bucket: str, config: Path, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/bad.jpg", Body=b"not a jpeg at all" * 100)
    code, record = _run(config, moto_endpoint, f"s3://{bucket}/incoming/bad.jpg")
    assert code == 1
    assert record["status"] == "failed"
    assert record["output"] is None
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="processed/")
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_bad_image_error_code_reaches_the_record(
    s3: S3Client, bucket: str, config: Path, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/bad.jpg", Body=b"not a jpeg at all" * 100)
    _, record = _run(config, moto_endpoint, f"s3://{bucket}/incoming/bad.jpg")
    error = record["error"]
    assert isinstance(error, dict) and error["code"] == "InvalidImage"
    assert error["step"] == "decode"


def test_process_reads_an_s3_logo_through_a_client_made_on_demand(
    tmp_path: Path, config: Path, moto_endpoint: str
) -> None:
    source, out = tmp_path / "photo.jpg", tmp_path / "out.webp"
    source.write_bytes(_jpeg((800, 600), 1))
    argv = ["process", "-q", "--config", str(config), "--workflow", "photos"]
    result = CliRunner().invoke(
        main, [*argv, "--endpoint-url", moto_endpoint, str(source), str(out)]
    )
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        assert image.size == (400, 300)
        red, green, blue = image.convert("RGB").getpixel((20, 10))  # type: ignore[misc]
    assert red > 200 and green < 60 and blue < 60  # the logo, read from the bucket
