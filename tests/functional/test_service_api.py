"""Execution API: explicit starts, records, listings, overload (429), recovery at start."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.faults import fault_proxy
from tests.support.service import (
    GATES,
    READ_ATTEMPTS,
    archive_workflows,
    config,
    failing_gets,
    gated_workflows,
    proxied_storage,
    running,
    s3_notification,
    wait_final,
    workflows,
)
from tests.support.storage import MiB, open_uploads
from tests.support.waiting import eventually
from trigger_service.execution.executor import INTERRUPTED
from trigger_service.intake.routing import idempotency_key
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.store.sqlite import SQLiteExecutionStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


async def test_explicit_start_is_deduplicated_and_validated(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/a.txt", Body=b"abc" * 100)
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (_, client):
        body = {"bucket": bucket, "key": "incoming/a.txt"}
        first = await client.post("/workflows/archive/executions", json=body)
        assert first.status_code == 202, first.text
        record = first.json()
        assert first.headers["x-execution-id"] == record["id"]
        assert first.headers["location"] == f"/executions/{record['id']}"
        assert record["status"] in {"queued", "running", "succeeded"}
        assert record["source"] == "api"
        again = await client.post("/workflows/archive/executions", json=body)
        assert again.json()["id"] == record["id"]
        final = await wait_final(client, record["id"])
        assert final["status"] == "succeeded"
        output = s3.get_object(Bucket=bucket, Key=final["output"]["key"])
        assert gzip.decompress(output["Body"].read()) == b"abc" * 100

        cases = [
            ("/workflows/nope/executions", body, 404, "UnknownWorkflow"),
            ("/workflows/archive/executions", {"bucket": bucket}, 400, "InvalidRequest"),
            ("/workflows/archive/executions", {**body, "extra": 1}, 400, "InvalidRequest"),
            (
                "/workflows/archive/executions",
                {"bucket": bucket, "key": "incoming/missing"},
                404,
                "NoSuchKey",
            ),
            (
                "/workflows/archive/executions",
                {"bucket": bucket, "key": final["output"]["key"]},
                403,  # an output is not what the trigger watches
                "OutOfScope",
            ),
        ]
        for path, payload, status, code in cases:
            response = await client.post(path, json=payload)
            assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        invalid = await client.post(
            "/workflows/archive/executions",
            content=b"{oops",
            headers={"content-type": "application/json"},
        )
        assert invalid.status_code == 400
        assert "body" in invalid.json()["error"]["message"]


async def test_records_and_listings(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    flows = workflows(
        bucket,
        copy={
            "trigger": {"prefix": "incoming/"},
            "steps": ["passthrough"],
            "output": {"bucket": bucket, "key": "out/{name}"},
        },
        broken={
            "trigger": {"prefix": "never/"},
            "api": {"any_key": True},  # started through the API on keys it does not watch
            "steps": ["gunzip"],
            "output": {"bucket": bucket, "key": "gunzipped/{name}"},
        },
    )
    async with running(config(moto_endpoint, flows)) as (_, client):
        ids = []
        for i in range(5):
            s3.put_object(Bucket=bucket, Key=f"incoming/{i}.txt", Body=b"not gzip")
            response = await client.post(
                "/workflows/copy/executions", json={"bucket": bucket, "key": f"incoming/{i}.txt"}
            )
            ids.append(response.json()["id"])
        failed = await client.post(
            "/workflows/broken/executions", json={"bucket": bucket, "key": "incoming/0.txt"}
        )
        ids.append(failed.json()["id"])
        for execution_id in ids:
            await wait_final(client, execution_id)

        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/executions", params=params)).json()
            seen += [r["id"] for r in page["executions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))

        by_status = (await client.get("/executions", params={"status": "failed"})).json()
        assert [r["id"] for r in by_status["executions"]] == [ids[-1]]
        assert by_status["executions"][0]["error"]["code"]
        by_workflow = (await client.get("/executions", params={"workflow": "copy"})).json()
        assert len(by_workflow["executions"]) == 5

        one = await client.get(f"/executions/{ids[0]}")
        assert one.status_code == 200
        assert set(one.json()) >= {
            "id",
            "workflow",
            "status",
            "input",
            "output",
            "steps",
            "error",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        }
        assert one.json()["created_at"].endswith("Z")
        for params, code in [
            ({"status": "done"}, "InvalidRequest"),
            ({"limit": "0"}, "InvalidRequest"),
            ({"limit": "x"}, "InvalidRequest"),
            ({"cursor": "garbage!"}, "InvalidCursor"),
        ]:
            bad = await client.get("/executions", params=params)
            assert (bad.status_code, bad.json()["error"]["code"]) == (400, code)
        missing = await client.get("/executions/does-not-exist")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "ExecutionNotFound"


async def test_transient_failures_are_retried_and_bad_input_is_not(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    flows = workflows(
        bucket,
        copy={
            "trigger": {"prefix": "incoming/"},
            "steps": ["passthrough"],
            "output": {"bucket": bucket, "key": "out/{name}"},
            "retry": {"attempts": 3, "backoff_seconds": 0.1},
        },
        unpack={
            "trigger": {"prefix": "packed/"},
            "steps": ["gunzip"],
            "output": {"bucket": bucket, "key": "unpacked/{stem}"},
            "retry": {"attempts": 3, "backoff_seconds": 0},
        },
    )
    s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data" * 1000)
    s3.put_object(Bucket=bucket, Key="packed/bad.gz", Body=b"not gzip at all")
    # The API HEADs the object; the engine's first attempt finds the store unavailable for
    # every GET it tries; the retry reads it.
    decide = failing_gets(bucket, "incoming/x.bin", lambda n: n <= READ_ATTEMPTS)
    with fault_proxy(moto_endpoint, decide) as (proxy, log):
        cfg = config(moto_endpoint, flows, storage=proxied_storage(proxy))
        async with running(cfg) as (_, client):
            copy = await client.post(
                "/workflows/copy/executions", json={"bucket": bucket, "key": "incoming/x.bin"}
            )
            unpack = await client.post(
                "/workflows/unpack/executions", json={"bucket": bucket, "key": "packed/bad.gz"}
            )
            retried = await wait_final(client, copy.json()["id"])
            assert retried["status"] == "succeeded"
            assert retried["attempts"] == 2
            assert retried["error"] is None
            assert len(log.injected) == READ_ATTEMPTS
            bad = await wait_final(client, unpack.json()["id"])
            assert bad["status"] == "failed"
            assert bad["attempts"] == 1
            assert bad["error"]["transient"] is False
            metrics = (await client.get("/metrics")).text
            assert 'bucketstream_retries_total{workflow="copy"} 1.0' in metrics
            assert 'bucketstream_retries_total{workflow="unpack"}' not in metrics
            assert 'bucketstream_bytes_read_total{workflow="copy"} 4000.0' in metrics
            assert 'bucketstream_bytes_written_total{workflow="copy"} 4000.0' in metrics
            assert 'bucketstream_executions_total{status="failed",workflow="unpack"} 1.0' in metrics
            assert (
                'bucketstream_step_duration_seconds_count{step="passthrough",workflow="copy"} 1.0'
                in metrics
            )


async def test_full_queue_answers_429_with_retry_after(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    gate, flows = gated_workflows(bucket)
    cfg = config(moto_endpoint, flows, concurrency=1, queue_size=2, retry_after_seconds=7)
    etags = {
        i: s3.put_object(Bucket=bucket, Key=f"incoming/{i}.bin", Body=b"x")["ETag"].strip('"')
        for i in range(4)
    }

    def event(i: int) -> dict[str, object]:
        return s3_notification(bucket, f"incoming/{i}.bin", etag=etags[i])

    async with running(cfg) as (service, client):
        first = await client.post("/events", json=event(0))
        assert first.status_code == 202

        async def started() -> bool:
            return service.executor.running == 1

        await eventually(started)
        for i in (1, 2):
            assert (await client.post("/events", json=event(i))).status_code == 202
        assert service.executor.queued == 2

        rejected = [
            await client.post("/events", json=event(3)),
            await client.post("/events", json=event(1)),
            await client.post(
                "/workflows/held/executions", json={"bucket": bucket, "key": "incoming/3.bin"}
            ),
            await client.post(
                "/workflows/held/sync-executions",
                json={"bucket": bucket, "key": "incoming/3.bin"},
            ),
        ]
        for response in rejected:
            assert response.status_code == 429
            assert response.headers["retry-after"] == "7"
            assert response.json()["error"]["code"] == "Overloaded"
        # A duplicate of a queued execution needs a slot to be looked up, so it got 429 too;
        # retried after the queue drains, it finds the existing execution.
        metrics = (await client.get("/metrics")).text
        assert "bucketstream_queue_depth 2.0" in metrics

        GATES[gate].set()

        async def drained() -> bool:
            return service.executor.queued == 0 and service.executor.running == 0

        await eventually(drained)
        retried = await client.post("/events", json=event(3))
        assert retried.status_code == 202
        again = await client.post("/events", json=event(1))
        assert again.json()["duplicates"] == [again.json()["executions"][0]["id"]]
        final = await wait_final(client, retried.json()["executions"][0]["id"])
        assert final["status"] == "succeeded"


async def test_restart_aborts_interrupted_uploads_and_runs_them_again(
    s3: S3Client, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    flows = archive_workflows(bucket)
    workflow = flows.get("archive")
    payload = os.urandom(2 * MiB)
    etag = s3.put_object(Bucket=bucket, Key="incoming/r.bin", Body=payload)["ETag"].strip('"')
    s3.put_object(Bucket=bucket, Key="incoming/q.bin", Body=b"queued")
    path = tmp_path / "executions.db"

    store = SQLiteExecutionStore(path)
    await store.open()
    interrupted = ExecutionRecord(
        workflow="archive",
        status=ExecutionStatus.RUNNING,
        input=ObjectRef(bucket=bucket, key="incoming/r.bin", etag=etag, size=len(payload)),
        attempts=1,
        source="sqs",
        idempotency_key=idempotency_key(
            "archive",
            bucket,
            "incoming/r.bin",
            version_id=None,
            etag=etag,
            last_modified=s3.head_object(Bucket=bucket, Key="incoming/r.bin")["LastModified"],
        ),
    )
    output_key = workflow.output_key.render(
        "incoming/r.bin", execution_id=interrupted.id, output_format=None
    )
    upload = s3.create_multipart_upload(Bucket=bucket, Key=output_key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=output_key, UploadId=upload, PartNumber=1, Body=b"x" * MiB)
    interrupted.upload_id = upload
    exhausted = ExecutionRecord(
        workflow="archive",
        status=ExecutionStatus.RUNNING,
        input=ObjectRef(bucket=bucket, key="incoming/r.bin", etag=etag),
        attempts=2,
    )
    queued = ExecutionRecord(
        workflow="archive", input=ObjectRef(bucket=bucket, key="incoming/q.bin")
    )
    for record in (interrupted, exhausted, queued):
        await store.create(record)
    await store.close()
    assert open_uploads(s3, bucket) == [output_key]

    async with running(config(moto_endpoint, flows, store_path=path)) as (_, client):
        resumed = await wait_final(client, interrupted.id)
        assert resumed["status"] == "succeeded", resumed["error"]
        assert resumed["attempts"] == 2
        assert resumed["error"] is None
        assert resumed["upload_id"] is None
        body = s3.get_object(Bucket=bucket, Key=resumed["output"]["key"])["Body"].read()
        assert gzip.decompress(body) == payload

        gave_up = (await client.get(f"/executions/{exhausted.id}")).json()
        assert gave_up["status"] == "failed"
        assert gave_up["error"]["code"] == INTERRUPTED

        picked_up = await wait_final(client, queued.id)
        assert picked_up["status"] == "succeeded"

        assert open_uploads(s3, bucket) == []
        duplicate = await client.post(
            "/events", json=s3_notification(bucket, "incoming/r.bin", etag=etag)
        )
        assert duplicate.json()["duplicates"] == [interrupted.id]
