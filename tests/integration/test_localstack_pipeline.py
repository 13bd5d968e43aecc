"""The real paths against LocalStack, which checks checksums and part sizes more strictly."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
from PIL import Image

from storage_adapter import StorageIO, StorageSettings, TransferSettings
from storage_adapter.reader import range_spans
from tests.support.service import config, notify_queue, queue_size, running, unique, workflows
from tests.support.storage import MiB, open_uploads
from tests.support.waiting import eventually
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.records import ExecutionRecord, ObjectRef
from trigger_service.store.protocol import ExecutionStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient


def _storage(endpoint: str) -> StorageSettings:
    return StorageSettings(endpoint_url=endpoint, region="us-east-1", addressing_style="path")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_ranged_read_and_multipart_output(
    localstack_endpoint: str, localstack_s3: S3Client
) -> None:
    bucket = unique("ls-copy")
    localstack_s3.create_bucket(Bucket=bucket)
    data = os.urandom(13 * MiB + 123)
    localstack_s3.put_object(Bucket=bucket, Key="incoming/blob.bin", Body=data)
    flows = workflows(bucket, copy={"trigger": {"prefix": "incoming/"}, "steps": ["passthrough"]})
    transfer = TransferSettings(chunk_size=1 * MiB, read_ahead=3, part_size=5 * MiB)
    engine = ExecutionEngine(StorageIO.from_settings(_storage(localstack_endpoint)), transfer)
    record = ExecutionRecord(
        workflow="copy", input=ObjectRef(bucket=bucket, key="incoming/blob.bin")
    )
    result = anyio.run(engine.execute, flows.get("copy"), record)
    assert result.status == "succeeded", result.error
    assert result.output is not None and result.output.etag is not None
    assert result.output.etag.endswith("-3")
    read = next(step for step in result.steps if step.name == "read")
    # ranged GETs of 1 MiB each: 13 MiB + 123 bytes in 14 ranges
    assert read.frames_out == len(range_spans(len(data), 1 * MiB)) == 14
    body = localstack_s3.get_object(Bucket=bucket, Key="processed/incoming/blob.bin")
    assert _sha(body["Body"].read()) == _sha(data)
    assert body["Metadata"]["bucketstream-execution"] == result.id
    assert open_uploads(localstack_s3, bucket) == []


def test_object_changed_is_detected(localstack_endpoint: str, localstack_s3: S3Client) -> None:
    bucket = unique("ls-changed")
    localstack_s3.create_bucket(Bucket=bucket)
    first = localstack_s3.put_object(Bucket=bucket, Key="incoming/a.bin", Body=b"one" * 1000)
    localstack_s3.put_object(Bucket=bucket, Key="incoming/a.bin", Body=b"two" * 1000)
    flows = workflows(bucket, copy={"trigger": {"prefix": "incoming/"}, "steps": ["passthrough"]})
    engine = ExecutionEngine(StorageIO.from_settings(_storage(localstack_endpoint)))
    record = ExecutionRecord(
        workflow="copy",
        input=ObjectRef(bucket=bucket, key="incoming/a.bin", etag=first["ETag"].strip('"')),
    )
    result = anyio.run(engine.execute, flows.get("copy"), record)
    assert result.status == "failed"
    assert result.error is not None and result.error.code == "ObjectChanged"
    listed = localstack_s3.list_objects_v2(Bucket=bucket, Prefix="processed/")
    assert listed.get("KeyCount", 0) == 0


def test_sqs_notification_path_with_image_workflow(
    localstack_endpoint: str, localstack_s3: S3Client, localstack_sqs: SQSClient
) -> None:
    bucket = unique("ls-photos")
    localstack_s3.create_bucket(Bucket=bucket)
    queue = notify_queue(localstack_s3, localstack_sqs, bucket)
    flows = workflows(
        bucket,
        photos={
            "trigger": {"prefix": "incoming/", "suffix": [".jpg"]},
            "steps": [
                {"compress": {"max_width": 640, "max_height": 640, "format": "jpeg"}},
                {"watermark": {"text": "LocalStack", "position": "bottom-right"}},
            ],
            "output": {"bucket": bucket, "key": "processed/{stem}.{ext}"},
        },
    )
    picture = io.BytesIO()
    Image.radial_gradient("L").resize((1600, 1200)).convert("RGB").save(picture, "JPEG")
    cfg: Any = config(localstack_endpoint, flows, queue_urls=(queue.url,))
    cfg = replace(cfg, storage=_storage(localstack_endpoint))

    async def scenario() -> ExecutionRecord:
        async with running(cfg) as (service, _client):
            store: ExecutionStore = service.store
            await anyio.to_thread.run_sync(
                lambda: localstack_s3.put_object(
                    Bucket=bucket, Key="incoming/photo.jpg", Body=picture.getvalue()
                )
            )
            found: list[ExecutionRecord] = []

            async def finished() -> bool:
                page = await store.list_executions(workflow="photos", limit=10)
                found[:] = [r for r in page.executions if r.status.final]
                return bool(found)

            await eventually(finished, within=60, interval=0.2)
            await eventually(
                lambda: anyio.to_thread.run_sync(
                    lambda: queue_size(localstack_sqs, queue.url) == 0
                ),
                within=30,
                interval=0.2,
            )
            return found[0]

    record = anyio.run(scenario)
    assert record.status == "succeeded", record.error
    assert record.source == "sqs"
    output = localstack_s3.get_object(Bucket=bucket, Key="processed/photo.jpg")
    assert output["Metadata"]["bucketstream-execution"] == record.id
    with Image.open(io.BytesIO(output["Body"].read())) as image:
        assert image.format == "JPEG" and image.size == (640, 480)
    assert open_uploads(localstack_s3, bucket) == []
