"""An input already pinned (etag and size, as the intake records it): read at once, still checked.

Such an input is not HEADed again: the first ranged GET's answer carries what the HEAD did, and
its checks (an output of an execution is never processed, the version is the one pinned) must
hold all the same, with nothing written when they fail. The first GET goes out alone; the others
follow once it has answered.
"""

from __future__ import annotations

import functools
import gzip
import threading
from typing import TYPE_CHECKING, Any

import anyio

from tests.support.engine import engine, execute, flows, gzip_workflow
from tests.support.images import encode, noise
from tests.support.storage import read_object
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.records import ExecutionRecord, ExecutionStatus
from trigger_service.workflows.model import Workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _execute(
    run: ExecutionEngine, workflow: Workflow, bucket: str, key: str, **fields: Any
) -> ExecutionRecord:
    return anyio.run(functools.partial(execute, run, workflow, bucket, key, **fields))


def _etag(s3: S3Client, bucket: str, key: str) -> str:
    return s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')


def _nothing_written(s3: S3Client, bucket: str) -> bool:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount", 0)
    return listed == 0 and s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def _calls(run: ExecutionEngine) -> list[str]:
    """``send X`` and ``answered X`` for every request ``run`` makes from now on."""
    calls: list[str] = []
    lock = threading.Lock()

    def note(event: str, model: Any) -> None:
        with lock:
            calls.append(f"{event} {model.name}")

    events = run.io.client.meta.events
    events.register("before-call.s3", lambda model, **_: note("send", model))
    events.register("after-call.s3", lambda model, **_: note("answered", model))
    return calls


def test_pinned_input_is_read_without_a_head(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=b"hello " * 1000)
    etag = _etag(s3, bucket, "in/a.txt")
    run = engine(moto_endpoint)
    calls = _calls(run)

    record = _execute(run, gzip_workflow(bucket), bucket, "in/a.txt", etag=etag, size=6000)

    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert "send HeadObject" not in calls
    assert calls[0] == "send GetObject"
    assert record.input.etag == etag and record.input.size == 6000
    assert s3.head_object(Bucket=bucket, Key="out/in/a.txt.gz")["ContentLength"] > 0


def test_first_get_is_answered_before_the_others_are_sent(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    body = bytes(range(256)) * 1024  # 256 KiB: four 64 KiB ranges or more
    s3.put_object(Bucket=bucket, Key="in/f.bin", Body=body)
    run = engine(moto_endpoint)
    calls = _calls(run)

    record = _execute(
        run,
        gzip_workflow(bucket),
        bucket,
        "in/f.bin",
        etag=_etag(s3, bucket, "in/f.bin"),
        size=len(body),
    )

    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    gets = [c for c in calls if c.endswith("GetObject")]
    (read,) = [step for step in record.steps if step.name == "read"]
    assert gets.count("send GetObject") == read.details["ranges"] >= 4
    assert gets[:2] == ["send GetObject", "answered GetObject"]
    assert gzip.decompress(read_object(s3, bucket, "out/in/f.bin.gz")) == body


def test_pinned_empty_input_is_headed_for_its_checks(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(
        Bucket=bucket, Key="in/g.txt", Body=b"", Metadata={"bucketstream-execution": "older"}
    )
    run = engine(moto_endpoint)
    calls = _calls(run)

    record = _execute(
        run, gzip_workflow(bucket), bucket, "in/g.txt", etag=_etag(s3, bucket, "in/g.txt"), size=0
    )

    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.code == "LoopPrevented"
    assert calls == ["send HeadObject", "answered HeadObject"]
    assert _nothing_written(s3, bucket)


def test_unpinned_input_is_headed_before_it_is_read(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/b.txt", Body=b"x" * 100)
    run = engine(moto_endpoint)
    calls: list[str] = []
    run.io.client.meta.events.register("after-call.s3", lambda model, **_: calls.append(model.name))

    record = _execute(run, gzip_workflow(bucket), bucket, "in/b.txt")

    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert calls[0] == "HeadObject"
    assert record.input.size == 100 and record.input.etag == _etag(s3, bucket, "in/b.txt")


def test_pinned_output_of_an_execution_is_refused_and_nothing_written(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="in/c.txt",
        Body=b"made by an execution",
        Metadata={"bucketstream-execution": "earlier"},
    )
    etag = _etag(s3, bucket, "in/c.txt")
    run = engine(moto_endpoint)

    record = _execute(run, gzip_workflow(bucket), bucket, "in/c.txt", etag=etag, size=20)

    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.code == "LoopPrevented"
    assert "earlier" in record.error.message
    assert _nothing_written(s3, bucket)


def test_pinned_input_replaced_since_fails_with_object_changed(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/d.txt", Body=b"first version")
    etag = _etag(s3, bucket, "in/d.txt")
    s3.put_object(Bucket=bucket, Key="in/d.txt", Body=b"second version, longer")
    run = engine(moto_endpoint)

    record = _execute(run, gzip_workflow(bucket), bucket, "in/d.txt", etag=etag, size=13)

    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.code == "ObjectChanged"
    assert not record.error.transient
    assert _nothing_written(s3, bucket)


def test_image_steps_after_a_failed_read_are_cancelled_not_misled(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    """decode runs in a thread, which cancellation cannot stop mid-call: it must not take the
    read's failure for an empty object (it used to report EmptyInput)."""
    photo = encode(noise((320, 240)), "JPEG")
    s3.put_object(Bucket=bucket, Key="in/p.jpg", Body=photo)
    etag = _etag(s3, bucket, "in/p.jpg")
    s3.put_object(Bucket=bucket, Key="in/p.jpg", Body=photo + b"replaced")
    workflow = flows(
        {
            "photos": {
                "trigger": {"bucket": bucket, "prefix": "in/"},
                "steps": [{"compress": {"max_width": 100, "format": "jpeg"}}],
                "output": {"bucket": bucket, "key": "out/{key}"},
            }
        }
    ).get("photos")

    record = _execute(
        engine(moto_endpoint), workflow, bucket, "in/p.jpg", etag=etag, size=len(photo)
    )

    assert record.error is not None and record.error.code == "ObjectChanged"
    assert record.error.step == "read"
    after_read = [(step.name, step.status) for step in record.steps if step.name != "read"]
    assert after_read == [(name, "cancelled") for name in ("decode", "compress", "encode", "write")]
    assert all("error" not in step.details for step in record.steps if step.name != "read")
    assert _nothing_written(s3, bucket)


def test_pinned_input_deleted_since_fails_with_not_found(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/e.txt", Body=b"short-lived")
    etag = _etag(s3, bucket, "in/e.txt")
    s3.delete_object(Bucket=bucket, Key="in/e.txt")
    run = engine(moto_endpoint)

    record = _execute(run, gzip_workflow(bucket), bucket, "in/e.txt", etag=etag, size=11)

    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.code == "NoSuchKey"
    assert _nothing_written(s3, bucket)
