"""``limits.max_input_bytes``: a larger input fails with ``InputTooLarge`` before any GET of
its body, whether its size came with the execution or from a HEAD; nothing is written."""

from __future__ import annotations

import functools
import gzip
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from tests.support.engine import engine, execute, flows
from trigger_service.errors import WorkflowConfigError
from trigger_service.records import ExecutionStatus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def limited(bucket: str, limit: int) -> Any:
    return flows(
        {
            "zip": {
                "trigger": {"bucket": bucket, "prefix": "in/"},
                "steps": [{"gzip": {"level": 1}}],
                "output": {"bucket": bucket, "key": "out/{key}.gz"},
                "limits": {"max_input_bytes": limit},
            }
        }
    ).get("zip")


@pytest.mark.parametrize("pinned", [True, False])
def test_an_input_over_max_input_bytes_is_refused_before_its_body_is_read(
    s3: S3Client, bucket: str, moto_endpoint: str, pinned: bool
) -> None:
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=b"x" * 5000)
    etag = s3.head_object(Bucket=bucket, Key="in/a.txt")["ETag"].strip('"')
    run = engine(moto_endpoint)
    calls: list[str] = []
    lock = threading.Lock()

    def note(model: Any, **_: Any) -> None:
        with lock:
            calls.append(model.name)

    run.io.client.meta.events.register("before-call.s3", note)
    fields: dict[str, Any] = {"etag": etag, "size": 5000} if pinned else {}
    record = anyio.run(
        functools.partial(execute, run, limited(bucket, 4096), bucket, "in/a.txt", **fields)
    )

    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.code == "InputTooLarge"
    assert "limits.max_input_bytes (4096)" in record.error.message
    assert "GetObject" not in calls and "CreateMultipartUpload" not in calls
    assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount", 0) == 0


def test_an_input_at_the_limit_is_processed(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=b"x" * 4096)
    record = anyio.run(
        functools.partial(execute, engine(moto_endpoint), limited(bucket, 4096), bucket, "in/a.txt")
    )
    assert record.status is ExecutionStatus.SUCCEEDED, record.error


def test_a_bad_limit_fails_the_load_naming_the_field() -> None:
    with pytest.raises(WorkflowConfigError, match=r"limits\.max_input_bytes"):
        limited("photos", -1)


def test_an_output_over_max_output_bytes_fails_and_its_upload_is_aborted(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/z.gz", Body=gzip.compress(b"\0" * (24 * 1024**2)))
    workflow = flows(
        {
            "unzip": {
                "trigger": {"bucket": bucket, "prefix": "in/"},
                "steps": ["gunzip"],
                "output": {"bucket": bucket, "key": "out/{stem}"},
                "limits": {"max_output_bytes": 12 * 1024**2},
            }
        }
    ).get("unzip")
    record = anyio.run(
        functools.partial(execute, engine(moto_endpoint), workflow, bucket, "in/z.gz")
    )
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.code == "OutputTooLarge"
    assert "limits.max_output_bytes" in record.error.message
    assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount", 0) == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_max_frames_bounds_the_decode_of_an_animated_input() -> None:
    workflow = flows(
        {
            "thumbs": {
                "trigger": {"bucket": "photos", "prefix": "in/"},
                "steps": [{"compress": {"max_width": 64, "max_height": 64}}],
                "output": {"bucket": "photos", "key": "out/{key}"},
                "limits": {"max_frames": 5},
            }
        }
    ).get("thumbs")
    decode = next(step for step in workflow.planned_steps() if step.definition.name == "decode")
    assert getattr(decode.params, "max_frames", None) == 5
