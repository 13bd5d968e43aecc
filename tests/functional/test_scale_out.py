"""Several workers on one PostgreSQL store: leases, takeover, upload safety, shared status.

Each worker is a whole service instance (in process) with its own worker id; they share a
real PostgreSQL database (``postgres_url``) and the moto server's S3 and SQS over HTTP.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import psycopg
import pytest

from tests.support.service import (
    GATES,
    archive_workflows,
    config,
    gated_workflows,
    notify_queue,
    queue_size,
    running,
    wait_final,
)
from tests.support.storage import MiB, open_uploads, versions_under
from tests.support.waiting import eventually
from trigger_service.intake.routing import idempotency_key
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef, utc_now
from trigger_service.service import Service, ServiceConfig
from trigger_service.store import store_from_url

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.anyio

LEASE = 2.0


@asynccontextmanager
async def workers(
    cfg: ServiceConfig, count: int
) -> AsyncIterator[list[tuple[Service, httpx.AsyncClient]]]:
    """``count`` service instances named w0, w1… on one configuration (one store URL)."""
    async with AsyncExitStack() as stack:
        started = [
            await stack.enter_async_context(running(replace(cfg, worker_id=f"w{i}")))
            for i in range(count)
        ]
        yield started


async def _stored(url: str, *records: ExecutionRecord, lease: float | None = None) -> None:
    store = store_from_url(url)
    await store.open()
    try:
        for record in records:
            await store.create(record, lease_seconds=lease)
    finally:
        await store.close()


def _versioned(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@pytest.mark.parametrize("writer_pending", [False, True], ids=["alone", "writer-pending"])
async def test_takeover_never_aborts_a_live_executions_upload_of_the_same_key(
    s3: S3Client, bucket: str, moto_endpoint: str, postgres_url: str, writer_pending: bool
) -> None:
    """Executions of one input write one output key (no ``{execution_id}`` in the template).

    The dead one's recorded upload is aborted, and so is the upload it created without
    saving the id — unless another live execution of the input may be in that same window
    (``writer_pending``): the storage (moto) gives no usable initiation times, so no
    unnamed upload can be attributed and all are left. A live execution's named upload is
    never aborted.
    """
    flows = archive_workflows(bucket)
    workflow = flows.get("archive")
    key = "incoming/shared.bin"
    data = os.urandom(MiB)
    etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
    output_key = workflow.output_key.render(key, execution_id="-", output_format=None)

    def upload() -> str:
        return s3.create_multipart_upload(Bucket=bucket, Key=output_key)["UploadId"]

    dead = ExecutionRecord(
        workflow="archive",
        status=ExecutionStatus.RUNNING,
        input=ObjectRef(bucket=bucket, key=key, etag=etag, size=len(data)),
        attempts=1,
        started_at=utc_now(),
        worker="dead",
        upload_id=upload(),
        idempotency_key=idempotency_key(
            "archive",
            bucket,
            key,
            version_id=None,
            etag=etag,
            last_modified=s3.head_object(Bucket=bucket, Key=key)["LastModified"],
        ),
    )
    unnamed = upload()  # the dead attempt crashed before saving this id
    live = ExecutionRecord(
        workflow="archive",
        status=ExecutionStatus.RUNNING,
        input=ObjectRef(bucket=bucket, key=key, etag="another-version"),
        attempts=1,
        started_at=utc_now(),
        worker="alive",
        upload_id=upload(),
    )
    others = [live]
    pending_upload = None
    if writer_pending:
        others.append(
            ExecutionRecord(
                workflow="archive",
                status=ExecutionStatus.RUNNING,
                input=ObjectRef(bucket=bucket, key=key, etag="a-third-version"),
                attempts=1,
                started_at=utc_now(),
                worker="alive",
            )
        )
        pending_upload = upload()  # created, its id not saved yet
    await _stored(postgres_url, *others, lease=600)
    await _stored(postgres_url, dead, lease=0.01)
    await anyio.sleep(0.05)

    cfg = config(moto_endpoint, flows, store_path=postgres_url, lease_seconds=LEASE)
    async with workers(cfg, 1) as [(_, client)]:
        resumed = await wait_final(client, dead.id)
        assert resumed["status"] == "succeeded", resumed["error"]
        assert resumed["worker"] == "w0" and resumed["attempts"] == 2
        listed = s3.list_multipart_uploads(Bucket=bucket, Prefix=output_key)
        left = {u["UploadId"] for u in listed.get("Uploads", [])}
        for other in others:
            still = (await client.get(f"/executions/{other.id}")).json()
            assert still["status"] == "running" and still["worker"] == "alive"
    expected = {live.upload_id} | ({unnamed, pending_upload} if writer_pending else set())
    assert left == expected
    assert dead.upload_id not in left
    for upload_id in left:
        s3.abort_multipart_upload(Bucket=bucket, Key=output_key, UploadId=upload_id)


async def test_two_workers_racing_for_one_expired_lease_run_it_once(
    s3: S3Client, bucket: str, moto_endpoint: str, postgres_url: str
) -> None:
    _versioned(s3, bucket)
    flows = archive_workflows(bucket)
    payload = os.urandom(MiB)
    etags = {}
    for i in range(6):
        key = f"incoming/race-{i}.bin"
        etags[key] = s3.put_object(Bucket=bucket, Key=key, Body=payload)["ETag"].strip('"')
    records = [
        ExecutionRecord(
            workflow="archive",
            status=ExecutionStatus.RUNNING,
            input=ObjectRef(bucket=bucket, key=key, etag=etag),
            attempts=1,
            started_at=utc_now(),
            worker="dead",
        )
        for key, etag in etags.items()
    ]
    await _stored(postgres_url, *records, lease=0.01)
    await anyio.sleep(0.1)
    cfg = config(moto_endpoint, flows, store_path=postgres_url, lease_seconds=LEASE)
    async with workers(cfg, 2) as started:
        client = started[0][1]
        finals = [await wait_final(client, record.id) for record in records]
    assert all(r["status"] == "succeeded" for r in finals), finals
    assert all(r["attempts"] == 2 for r in finals)  # one run each after the dead attempt
    assert {r["worker"] for r in finals} <= {"w0", "w1"}
    assert versions_under(s3, bucket, "archived/") == {f"archived/{key}.gz": 1 for key in etags}, (
        "an expired execution ran twice"
    )


async def test_duplicate_deliveries_across_workers_run_once_and_drain_the_queue(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str, postgres_url: str
) -> None:
    _versioned(s3, bucket)
    queue = notify_queue(s3, sqs, bucket)
    flows = archive_workflows(bucket)
    cfg = config(
        moto_endpoint,
        flows,
        store_path=postgres_url,
        lease_seconds=LEASE,
        queue_urls=(queue.url,),
    )
    keys = [f"incoming/dup-{i}.bin" for i in range(8)]
    async with workers(cfg, 2) as started:
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(256 * 1024))
        # Every notification delivered a second time, as SQS may.
        deadline = time.monotonic() + 20
        copied = 0
        while copied < len(keys) and time.monotonic() < deadline:
            for message in sqs.receive_message(
                QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", []):
                sqs.send_message(QueueUrl=queue.url, MessageBody=message["Body"])
                copied += 1
        clients = [client for _, client in started]

        async def all_final() -> bool:
            page = (await clients[1].get("/executions", params={"limit": "100"})).json()
            done = [r for r in page["executions"] if r["status"] == "succeeded"]
            return len(page["executions"]) == len(keys) == len(done)

        await eventually(all_final, within=60)

        async def drained() -> bool:
            return queue_size(sqs, queue.url) == 0

        await eventually(drained, within=60)
        listings: list[list[dict[str, Any]]] = [
            (await c.get("/executions", params={"limit": "100"})).json()["executions"]
            for c in clients
        ]
    assert [sorted(r["id"] for r in page) for page in listings].count(
        sorted(r["id"] for r in listings[0])
    ) == 2, "every worker lists every worker's executions"
    assert all(r["attempts"] == 1 for r in listings[0])
    assert {r["worker"] for r in listings[0]} <= {"w0", "w1"}
    assert versions_under(s3, bucket, "archived/") == {f"archived/{k}.gz": 1 for k in keys}
    assert open_uploads(s3, bucket) == []


async def test_a_worker_whose_lease_was_taken_stops_the_run_and_writes_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str, postgres_url: str
) -> None:
    gate, flows = gated_workflows(bucket)
    s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")
    cfg = config(moto_endpoint, flows, store_path=postgres_url, lease_seconds=LEASE)
    async with workers(cfg, 1) as [(service, client)]:
        started = await client.post(
            "/workflows/held/executions", json={"bucket": bucket, "key": "incoming/x.bin"}
        )
        execution_id = started.json()["id"]

        async def running_here() -> bool:
            return service.executor.running == 1

        await eventually(running_here)
        # Another worker takes it over, as after a partition longer than the lease.
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("UPDATE executions SET worker = 'thief' WHERE id = %s", (execution_id,))

        async def stopped() -> bool:
            return service.executor.running == 0 and not service.executor.holds(execution_id)

        await eventually(stopped, within=10)
        GATES[gate].set()
        await anyio.sleep(0.2)
        record = (await client.get(f"/executions/{execution_id}")).json()
    assert record["worker"] == "thief" and record["status"] == "running"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="out/")
    assert open_uploads(s3, bucket) == []


async def test_the_sweep_takes_over_an_api_execution_whose_worker_died_meanwhile(
    s3: S3Client, bucket: str, moto_endpoint: str, postgres_url: str
) -> None:
    """No event will come again for an API start: a live worker's sweep picks it up."""
    _versioned(s3, bucket)
    etag = s3.put_object(Bucket=bucket, Key="incoming/api.bin", Body=b"x" * 1000)["ETag"]
    cfg = config(
        moto_endpoint, archive_workflows(bucket), store_path=postgres_url, lease_seconds=LEASE
    )
    async with workers(cfg, 2) as started:
        orphan = ExecutionRecord(
            workflow="archive",
            status=ExecutionStatus.RUNNING,
            input=ObjectRef(bucket=bucket, key="incoming/api.bin", etag=etag.strip('"')),
            attempts=1,
            started_at=utc_now(),
            worker="died-after-the-others-started",
            source="api",
        )
        await _stored(postgres_url, orphan, lease=LEASE)
        record = await wait_final(started[0][1], orphan.id)
    assert record["status"] == "succeeded", record["error"]
    assert record["attempts"] == 2 and record["worker"] in {"w0", "w1"}
    assert versions_under(s3, bucket, "archived/") == {"archived/incoming/api.bin.gz": 1}
