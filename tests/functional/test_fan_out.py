"""Fan-out workflows against the moto server over HTTP: one read, several outputs, all or none."""

from __future__ import annotations

import gzip
import io
import os
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from PIL import Image, ImageDraw

from steps import StepContext
from storage_adapter import TransferSettings
from tests.support.engine import storage_io
from tests.support.faults import Fault, Request, fault_proxy
from tests.support.storage import keys_under, open_uploads
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.recovery import abort_orphan_uploads, committed_output
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef, utc_now
from trigger_service.workflows.loops import output_marker
from trigger_service.workflows.model import Workflow, parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
TRANSFER = TransferSettings(chunk_size=1 * MiB, read_ahead=2, part_size=5 * MiB)


async def fail_after_8_mib(ctx: StepContext) -> None:
    """A user step that passes 8 MiB on, then raises (the output is multipart by then)."""
    seen = 0
    async for chunk in ctx.input:
        seen += len(chunk)
        if seen > 8 * MiB:
            raise ValueError("this branch gives up half-way")
        await ctx.write(chunk)


def _engine(endpoint: str, *, max_attempts: int = 5) -> ExecutionEngine:
    return ExecutionEngine(
        storage_io(endpoint, max_attempts=max_attempts), TRANSFER, progress_interval=5
    )


def _workflow(spec: dict[str, Any]) -> Workflow:
    return parse_workflows({"workflows": {"fan": spec}}).get("fan")


async def _execute(engine: ExecutionEngine, workflow: Workflow, bucket: str, key: str) -> Any:
    record = ExecutionRecord(workflow=workflow.name, input=ObjectRef(bucket=bucket, key=key))
    with anyio.fail_after(120):
        return await engine.execute(workflow, record)


def _new_bucket(s3: S3Client, *, versioned: bool = False) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _photo_24mp() -> bytes:
    image = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for x in range(0, 6000, 400):
        draw.rectangle((x, 0, x + 150, 4000), fill=(200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


async def test_three_renditions_from_one_read_and_one_decode(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    public = _new_bucket(s3)
    photo = _photo_24mp()
    s3.put_object(Bucket=bucket, Key="incoming/photo.jpg", Body=photo)
    workflow = _workflow(
        {
            "trigger": {"bucket": bucket, "prefix": "incoming/", "suffix": [".jpg"]},
            "outputs": [
                {
                    "name": "thumb",
                    "steps": [
                        {
                            "compress": {
                                "max_width": 320,
                                "max_height": 320,
                                "format": "webp",
                                "quality": 70,
                            }
                        }
                    ],
                    "key": "thumbs/{stem}-320.webp",
                },
                {
                    "name": "page",
                    "steps": [
                        {
                            "compress": {
                                "max_width": 1024,
                                "max_height": 1024,
                                "format": "jpeg",
                                "quality": 82,
                            }
                        },
                        {"watermark": {"text": "© Example", "position": "bottom-right"}},
                    ],
                    "key": "page/{stem}.jpg",
                    "bucket": public,
                },
                {
                    "name": "large",
                    "steps": [{"compress": {"max_width": 2048, "format": "png"}}],
                    "key": "large/{stem}-{output}.{ext}",
                },
            ],
        }
    )
    record = await _execute(_engine(moto_endpoint), workflow, bucket, "incoming/photo.jpg")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert record.output is None
    outputs = {o.name: o for o in record.outputs}
    assert [o.name for o in record.outputs] == ["thumb", "page", "large"]
    expected = {
        "thumb": (bucket, "thumbs/photo-320.webp", "WEBP", (320, 213), "image/webp"),
        "page": (public, "page/photo.jpg", "JPEG", (1024, 683), "image/jpeg"),
        "large": (bucket, "large/photo-large.png", "PNG", (2048, 1365), "image/png"),
    }
    for name, (out_bucket, key, fmt, size, content_type) in expected.items():
        assert (outputs[name].bucket, outputs[name].key) == (out_bucket, key)
        answer = s3.get_object(Bucket=out_bucket, Key=key)
        body = answer["Body"].read()
        assert answer["ContentType"] == content_type
        assert outputs[name].size == len(body)
        image = Image.open(io.BytesIO(body))
        assert (image.format, image.size) == (fmt, size)
    steps = {step.name: step for step in record.steps}
    assert steps["read"].bytes_out == len(photo)  # the input was read exactly once
    assert [s.name for s in record.steps if s.name.endswith("decode")] == ["decode"]
    # shrink-on-load covers the largest branch (2048 px): 6000 px decoded at 3/8 (2250), no less
    assert steps["decode"].details["decode_decoded_width"] == 2250
    assert {
        "tee",
        "thumb.compress",
        "thumb.encode",
        "thumb.write",
        "page.watermark",
        "page.write",
        "large.write",
    } <= set(steps)
    assert all(step.status == "succeeded" for step in record.steps)
    assert steps["tee"].bytes_in == steps["decode"].bytes_out
    public_json = record.public()
    assert public_json["output"] is None and len(public_json["outputs"]) == 3
    assert open_uploads(s3, bucket) == [] and open_uploads(s3, public) == []


def _byte_workflow(bucket: str, archive: str, *, failing: bool = False) -> Workflow:
    archive_steps: list[Any] = ["passthrough"]
    if failing:
        archive_steps.append("tests.functional.test_fan_out:fail_after_8_mib")
    return _workflow(
        {
            "trigger": {"bucket": bucket, "prefix": "in/"},
            "outputs": [
                {"name": "zip", "steps": [{"gzip": {"level": 1}}], "key": "out/{key}.gz"},
                {
                    "name": "copy",
                    "steps": archive_steps,
                    "key": "archive/{key}",
                    "bucket": archive,
                    "content_type": "application/x-test",
                },
            ],
        }
    )


async def test_byte_workflow_fans_out_to_gzip_and_an_archive_bucket(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    archive = _new_bucket(s3)
    data = os.urandom(6 * MiB) + b"a" * (6 * MiB)
    s3.put_object(Bucket=bucket, Key="in/blob.bin", Body=data)
    workflow = _byte_workflow(bucket, archive)
    record = await _execute(_engine(moto_endpoint), workflow, bucket, "in/blob.bin")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    zipped = s3.get_object(Bucket=bucket, Key="out/in/blob.bin.gz")["Body"].read()
    assert gzip.decompress(zipped) == data
    copied = s3.get_object(Bucket=archive, Key="archive/in/blob.bin")
    assert copied["ContentType"] == "application/x-test"
    assert copied["Body"].read() == data
    steps = {step.name: step for step in record.steps}
    assert steps["read"].bytes_out == len(data)
    assert steps["copy.write"].bytes_in == len(data) and steps["zip.gzip"].bytes_in == len(data)
    assert record.upload_ids == {}


async def test_a_failing_branch_leaves_no_output_of_any_branch_and_no_open_upload(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    archive = _new_bucket(s3)
    data = os.urandom(12 * MiB)
    s3.put_object(Bucket=bucket, Key="in/blob.bin", Body=data)
    workflow = _byte_workflow(bucket, archive, failing=True)
    record = await _execute(_engine(moto_endpoint), workflow, bucket, "in/blob.bin")
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None
    assert record.error.step == "copy.tests.functional.test_fan_out:fail_after_8_mib"
    assert "gives up half-way" in record.error.message
    assert record.outputs is None and record.upload_ids == {}
    assert keys_under(s3, bucket, "out/") == [] and keys_under(s3, archive, "") == []
    assert open_uploads(s3, bucket) == [] and open_uploads(s3, archive) == []


async def test_a_failed_complete_deletes_the_outputs_already_committed(
    s3: S3Client, moto_endpoint: str
) -> None:
    """Versioned bucket: the version written is deleted, the one before is current again."""
    bucket = _new_bucket(s3, versioned=True)
    archive = _new_bucket(s3, versioned=True)
    data = os.urandom(11 * MiB)
    s3.put_object(Bucket=bucket, Key="in/blob.bin", Body=data)
    s3.put_object(Bucket=bucket, Key="out/in/blob.bin.gz", Body=b"the previous output")

    def fail_archive_complete(request: Request) -> Fault | None:
        if request.operation == "CompleteMultipartUpload" and "/archive/" in request.path:
            return Fault(status=500)
        return None

    with fault_proxy(moto_endpoint, fail_archive_complete) as (url, log):
        record = await _execute(
            _engine(url, max_attempts=2), _byte_workflow(bucket, archive), bucket, "in/blob.bin"
        )
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.step == "copy.write"
    assert log.operations["DeleteObject"] >= 1
    current = s3.get_object(Bucket=bucket, Key="out/in/blob.bin.gz")["Body"].read()
    assert current == b"the previous output"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="out/").get("Versions", [])
    assert len(versions) == 1  # the committed gzip output was deleted by its version id
    assert keys_under(s3, archive, "") == []
    assert open_uploads(s3, bucket) == [] and open_uploads(s3, archive) == []


async def test_recovery_settles_every_branch_of_an_interrupted_fan_out(
    s3: S3Client, moto_endpoint: str
) -> None:
    """After a crash: outputs recorded only when all were committed; else taken back."""
    bucket, archive = _new_bucket(s3), _new_bucket(s3)
    workflow = _byte_workflow(bucket, archive)
    s3.put_object(Bucket=bucket, Key="in/blob.bin", Body=b"data")
    record = ExecutionRecord(
        workflow=workflow.name,
        status=ExecutionStatus.RUNNING,
        input=ObjectRef(bucket=bucket, key="in/blob.bin"),
    )
    zip_key, copy_key = (b.render_key("in/blob.bin", record.id) for b in workflow.branches)
    marker = output_marker(record.id)
    s3.put_object(Bucket=bucket, Key=zip_key, Body=b"zipped", Metadata=marker)
    upload = s3.create_multipart_upload(Bucket=archive, Key=copy_key, Metadata=marker)
    record.upload_ids = {"copy": upload["UploadId"]}
    io_ = storage_io(moto_endpoint)

    assert await committed_output(io_, workflow, record) is None
    assert keys_under(s3, bucket, "out/") == []  # the lone committed output is taken back
    unnamed = s3.create_multipart_upload(Bucket=bucket, Key=zip_key)["UploadId"]
    asked: list[bool] = []

    async def live_state() -> tuple[set[str], bool]:
        asked.append(True)  # another live execution of the input may be writing: be careful
        return {unnamed}, True

    aborted = await abort_orphan_uploads(
        io_, workflow, record, live_state=live_state, now=utc_now(), grace=5
    )
    assert aborted == [upload["UploadId"]] and asked  # its own named upload, not a live one
    assert open_uploads(s3, archive) == [] and record.upload_ids == {}
    assert open_uploads(s3, bucket) == [zip_key]
    s3.abort_multipart_upload(Bucket=bucket, Key=zip_key, UploadId=unnamed)

    s3.put_object(Bucket=bucket, Key=zip_key, Body=b"zipped", Metadata=marker)
    s3.put_object(Bucket=archive, Key=copy_key, Body=b"copied", Metadata=marker)
    found = await committed_output(io_, workflow, record)
    assert isinstance(found, list)
    assert [(o.name, o.bucket, o.key, o.size) for o in found] == [
        ("zip", bucket, zip_key, 6),
        ("copy", archive, copy_key, 6),
    ]
