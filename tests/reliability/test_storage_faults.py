"""Storage faults: executions through a fault-injecting proxy in front of the moto server.

Promise under test: every object is processed once and nothing partial is ever visible, even
when the store answers 500/503, resets connections in the middle of a body, answers slowly,
or acts on a request whose answer never arrives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import pytest

from storage_adapter import TransferSettings
from tests.support.engine import engine, execute, fault_free_output, gzip_workflow
from tests.support.faults import Fault, FaultLog, Request, SeededFaults, fault_proxy
from tests.support.storage import KiB, MiB, keys_under, open_uploads, read_object
from trigger_service.records import ExecutionRecord, ExecutionStatus
from trigger_service.workflows.model import Workflow

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

#: Seeds of the objects' sizes and bytes, and of the fault plan (chosen so that the plan hits
#: every kind of request the executions make, first attempts included).
BATCH_SEED = 20260707
FAULT_SEED = 20260708
EXECUTIONS = 100
MULTIPART_EXECUTIONS = 8
#: Small objects are read in chunks of 32 KiB (up to 8 ranged GETs each); the multipart ones
#: (over the 5 MiB minimum part size) in chunks of 1 MiB.
SMALL_OBJECTS = TransferSettings(chunk_size=32 * KiB, read_ahead=2, part_size=5 * MiB)
LARGE_OBJECTS = TransferSettings(chunk_size=1 * MiB, read_ahead=2, part_size=5 * MiB)
FAULT_RATE = 0.10
CONCURRENCY = 8

#: 500 and 503 answered by the proxy (the store never sees the request), resets in the middle
#: of a GET body, and slow answers (forwarded after a pause).
STORAGE_FAULTS = (
    (3.0, Fault(status=500)),
    (3.0, Fault(status=503)),
    (3.0, Fault(reset_after_bytes=100)),
    (1.0, Fault(delay_seconds=0.2)),
)


@dataclass(frozen=True)
class Batch:
    """The inputs of one fault run: keys and their bytes."""

    objects: dict[str, bytes]


def make_batch(seed: int) -> Batch:
    """``EXECUTIONS`` objects from a seeded generator; the first few need a multipart output."""
    generator = random.Random(seed)
    objects: dict[str, bytes] = {}
    for index in range(EXECUTIONS):
        if index < MULTIPART_EXECUTIONS:
            size = 5 * MiB + generator.randint(1, 64 * KiB)
        else:
            size = generator.choice([0, 1, generator.randint(2, 256 * KiB)])
        objects[f"in/{index:03d}.bin"] = generator.randbytes(size)
    return Batch(objects)


def transfer_of(data: bytes) -> TransferSettings:
    """The transfer settings an object of this size is read with."""
    return LARGE_OBJECTS if len(data) > LARGE_OBJECTS.part_size else SMALL_OBJECTS


async def run_all(
    endpoint: str, workflow: Workflow, bucket: str, batch: Batch
) -> dict[str, ExecutionRecord]:
    """Every object of ``batch`` through ``workflow``, ``CONCURRENCY`` at a time."""
    limiter = anyio.CapacityLimiter(CONCURRENCY)
    records: dict[str, ExecutionRecord] = {}
    engines = {id(t): engine(endpoint, t) for t in (SMALL_OBJECTS, LARGE_OBJECTS)}

    async def one(key: str) -> None:
        run = engines[id(transfer_of(batch.objects[key]))]
        async with limiter:
            records[key] = await execute(run, workflow, bucket, key)

    with anyio.fail_after(180):
        async with anyio.create_task_group() as group:
            for key in sorted(batch.objects):
                group.start_soon(one, key)
    return records


def failures_injected(log: FaultLog) -> int:
    """Faults that made a request fail (not the slow ones)."""
    return sum(1 for _, _, fault in log.injected if fault.status or fault.reset_after_bytes)


async def test_hundred_executions_survive_ten_percent_of_requests_failing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    batch = make_batch(BATCH_SEED)
    for key, data in batch.objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    keys = sorted(batch.objects)
    try:
        workflow = gzip_workflow(bucket)
        # The fault-free run: the same steps on the same chunks, straight from memory.
        reference = {
            key: await fault_free_output(workflow, data, chunk_size=transfer_of(data).chunk_size)
            for key, data in batch.objects.items()
        }

        plan = SeededFaults(FAULT_SEED, FAULT_RATE, STORAGE_FAULTS)
        with fault_proxy(moto_endpoint, plan) as (url, log):
            faulty = await run_all(url, workflow, bucket, batch)

        failed = {
            k: r.error for k, r in faulty.items() if r.status is not ExecutionStatus.SUCCEEDED
        }
        assert failed == {}
        for key in keys:
            assert read_object(s3, bucket, f"out/{key}.gz") == reference[key], key
        multipart = [
            r for r in faulty.values() if r.output and (r.output.etag or "").endswith("-2")
        ]
        assert len(multipart) == MULTIPART_EXECUTIONS
        assert open_uploads(s3, bucket) == []
        assert len(keys_under(s3, bucket, "out/")) == EXECUTIONS

        # The plan did hit every kind of request, with roughly the share asked for.
        hit = log.injected_by_operation()
        assert set(hit) == {
            "HeadObject",
            "GetObject",
            "PutObject",
            "CreateMultipartUpload",
            "UploadPart",
            "CompleteMultipartUpload",
        }, hit
        assert 0.05 < failures_injected(log) / log.requests < 0.15
        assert any(fault.reset_after_bytes for _, _, fault in log.injected)
        assert any(fault.delay_seconds for _, _, fault in log.injected)
        print(
            f"\nstorage faults: {EXECUTIONS} executions, {log.requests} requests, "
            f"{failures_injected(log)} failed by the proxy, {len(log.injected)} faults in all "
            f"({dict(hit)}), 0 lost, 0 open uploads"
        )
    finally:
        for key in keys_under(s3, bucket, ""):
            s3.delete_object(Bucket=bucket, Key=key)


async def test_complete_failing_every_time_fails_clearly_and_leaves_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/big.bin", Body=random.Random(1).randbytes(5 * MiB + 7))

    def fail_complete(request: Request) -> Fault | None:
        # CompleteMultipartUpload: a POST with uploadId in the query.
        if request.method == "POST" and "uploadId" in request.query:
            return Fault(status=500)
        return None

    with fault_proxy(moto_endpoint, fail_complete) as (url, log):
        record = await execute(
            engine(url, LARGE_OBJECTS, max_attempts=2), gzip_workflow(bucket), bucket, "in/big.bin"
        )
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None
    assert record.error.code == "StorageUnavailable"
    assert record.error.step == "write"
    assert record.error.transient
    assert "CompleteMultipartUpload" in record.error.message
    assert record.output is None and record.upload_id is None
    assert log.operations["CompleteMultipartUpload"] >= 2
    assert log.operations["AbortMultipartUpload"] >= 1
    assert open_uploads(s3, bucket) == []
    assert keys_under(s3, bucket, "out/") == []


LOST_ANSWERS = [
    pytest.param("UploadPart", 5 * MiB + 9, id="UploadPart"),
    pytest.param("CompleteMultipartUpload", 5 * MiB + 9, id="CompleteMultipartUpload"),
    pytest.param("PutObject", 1000, id="PutObject"),
    pytest.param("CreateMultipartUpload", 5 * MiB + 9, id="CreateMultipartUpload"),
]


@pytest.mark.parametrize(("operation", "size"), LOST_ANSWERS)
async def test_an_answer_lost_after_the_store_acted_changes_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str, operation: str, size: int
) -> None:
    data = random.Random(size).randbytes(size)
    s3.put_object(Bucket=bucket, Key="in/x.bin", Body=data)
    workflow = gzip_workflow(bucket)
    expected = await fault_free_output(workflow, data, chunk_size=LARGE_OBJECTS.chunk_size)
    dropped: list[str] = []

    def drop_first_answer(request: Request) -> Fault | None:
        if request.operation == operation and not dropped:
            dropped.append(request.path)
            return Fault(drop_response=True)
        return None

    with fault_proxy(moto_endpoint, drop_first_answer) as (url, _):
        record = await execute(engine(url, LARGE_OBJECTS), workflow, bucket, "in/x.bin")
    assert dropped, f"no {operation} request was made"
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert read_object(s3, bucket, "out/in/x.bin.gz") == expected
    assert open_uploads(s3, bucket) == []


async def test_a_lost_abort_answer_still_leaves_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/x.bin", Body=random.Random(3).randbytes(5 * MiB + 1))
    dropped: list[str] = []

    def fail_complete_and_lose_abort(request: Request) -> Fault | None:
        if request.operation == "CompleteMultipartUpload":
            return Fault(status=500)
        if request.operation == "AbortMultipartUpload" and not dropped:
            dropped.append(request.path)
            return Fault(drop_response=True)
        return None

    with fault_proxy(moto_endpoint, fail_complete_and_lose_abort) as (url, _):
        record = await execute(
            engine(url, LARGE_OBJECTS, max_attempts=2), gzip_workflow(bucket), bucket, "in/x.bin"
        )
    assert dropped
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.code == "StorageUnavailable"
    assert open_uploads(s3, bucket) == []
    assert keys_under(s3, bucket, "out/") == []


async def test_storage_down_for_good_fails_transiently_and_writes_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/x.bin", Body=b"x" * 1000)

    def unavailable(request: Request) -> Fault:
        return Fault(status=503)

    with fault_proxy(moto_endpoint, unavailable) as (url, log):
        record = await execute(
            engine(url, LARGE_OBJECTS, max_attempts=2), gzip_workflow(bucket), bucket, "in/x.bin"
        )
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None
    assert (record.error.code, record.error.transient) == ("StorageUnavailable", True)
    assert log.requests >= 2
    assert keys_under(s3, bucket, "out/") == []
