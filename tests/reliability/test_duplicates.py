"""Duplicates and ordering: at-least-once delivery in, one execution per object version out.

Promise under test: every object version is processed once, and an execution never mixes
the bytes of two versions. Events are delivered three times, interleaved (webhook and SQS);
objects are overwritten between the event and the read, and while the read is under way.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from tests.support.service import (
    GATES,
    config,
    gated_workflows,
    queue_size,
    running,
    s3_notification,
    unique,
    wait_final,
    workflows,
)
from tests.support.storage import MiB, keys_under, open_uploads, read_object
from tests.support.waiting import eventually
from trigger_service.workflows.model import Workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.anyio

SEED = 31337
KEYS = 10
DELIVERIES = 3


def gzip_flows(bucket: str) -> Workflows:
    """``zip``: gzip ``incoming/`` into ``processed/{key}.{execution_id}.gz``."""
    return workflows(
        bucket,
        zip={
            "trigger": {"prefix": "incoming/"},
            "steps": [{"gzip": {"level": 1}}],
            "output": {"bucket": bucket, "key": "processed/{key}.{execution_id}.gz"},
            "retry": {"attempts": 1, "backoff_seconds": 0},
        },
    )


def versioned_event(bucket: str, key: str, put: dict[str, Any], size: int) -> dict[str, Any]:
    """An S3 notification for one object version, as S3 sends it for a versioned bucket."""
    event = s3_notification(bucket, key, etag=put["ETag"].strip('"'), size=size)
    event["Records"][0]["s3"]["object"]["versionId"] = put["VersionId"]
    return event


async def all_final(client: httpx.AsyncClient, expected: int) -> list[dict[str, Any]]:
    """Every execution once ``expected`` of them exist and all are final."""
    records: list[dict[str, Any]] = []

    async def done() -> bool:
        nonlocal records
        records = (await client.get("/executions", params={"limit": "1000"})).json()["executions"]
        return len(records) >= expected and all(
            r["status"] in {"succeeded", "failed"} for r in records
        )

    await eventually(done, within=60)
    return records


async def test_every_version_delivered_three_times_interleaved_runs_once(
    s3: S3Client, versioned_bucket: str, moto_endpoint: str
) -> None:
    bucket = versioned_bucket
    generator = random.Random(SEED)
    versions: dict[tuple[str, str], bytes] = {}
    events: list[dict[str, Any]] = []
    for index in range(KEYS):
        key = f"incoming/{index}.bin"
        for _ in range(2):  # two versions of every key
            data = generator.randbytes(generator.randint(1, 64 * 1024))
            put = s3.put_object(Bucket=bucket, Key=key, Body=data)
            versions[(key, put["VersionId"])] = data
            events += [versioned_event(bucket, key, dict(put), len(data))] * DELIVERIES
    generator.shuffle(events)
    cfg = config(moto_endpoint, gzip_flows(bucket), queue_size=len(events), concurrency=4)
    async with running(cfg) as (_, client):
        answers: list[httpx.Response] = []

        async def post(body: dict[str, Any]) -> None:
            answers.append(await client.post("/events", json=body))

        async with anyio.create_task_group() as group:
            for body in events:
                group.start_soon(post, body)
        assert Counter(a.status_code for a in answers) == {202: len(events)}
        started = Counter(a.json()["executions"][0]["id"] for a in answers)
        assert len(started) == len(versions)
        assert set(started.values()) == {DELIVERIES}
        duplicates = sum(len(a.json()["duplicates"]) for a in answers)
        assert duplicates == len(events) - len(versions)

        records = await all_final(client, len(versions))
        assert len(records) == len(versions)
        seen: Counter[tuple[str, str]] = Counter()
        for record in records:
            assert record["status"] == "succeeded", record["error"]
            version = (record["input"]["key"], record["input"]["version_id"])
            seen[version] += 1
            output = read_object(s3, bucket, record["output"]["key"])
            assert gzip.decompress(output) == versions[version]
        assert seen == dict.fromkeys(versions, 1)
        assert len(keys_under(s3, bucket, "processed/")) == len(versions)
        assert open_uploads(s3, bucket) == []


async def test_sqs_redeliveries_interleaved_run_once(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    generator = random.Random(SEED + 1)
    payloads = {f"incoming/{i}.bin": generator.randbytes(1000 + i) for i in range(KEYS)}
    bodies: list[str] = []
    for key, data in payloads.items():
        etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
        bodies += [json.dumps(s3_notification(bucket, key, etag=etag, size=len(data)))] * 3
    generator.shuffle(bodies)
    queue_url = sqs.create_queue(QueueName=unique("dups"))["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    cfg = config(moto_endpoint, gzip_flows(bucket), queue_urls=(queue_url,), queue_size=64)
    async with running(cfg) as (service, client):

        async def drained() -> bool:
            idle = service.executor.queued == 0 and service.executor.running == 0
            return idle and queue_size(sqs, queue_url) == 0

        await eventually(drained, within=60, interval=0.2)
        records = await all_final(client, len(payloads))
    assert len(records) == len(payloads)
    assert sorted(r["input"]["key"] for r in records) == sorted(payloads)
    for record in records:
        assert record["status"] == "succeeded", record["error"]
        assert record["source"] == "sqs"
        output = read_object(s3, bucket, record["output"]["key"])
        assert gzip.decompress(output) == payloads[record["input"]["key"]]
    assert len(keys_under(s3, bucket, "processed/")) == len(payloads)


async def test_an_event_for_a_replaced_object_starts_nothing_and_the_new_one_runs(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    key = "incoming/replaced.bin"
    old, new = b"A" * 5000, b"B" * 5000  # same size: only the etag tells them apart
    old_etag = s3.put_object(Bucket=bucket, Key=key, Body=old)["ETag"].strip('"')
    new_etag = s3.put_object(Bucket=bucket, Key=key, Body=new)["ETag"].strip('"')
    async with running(config(moto_endpoint, gzip_flows(bucket))) as (_, client):
        stale = await client.post("/events", json=s3_notification(bucket, key, etag=old_etag))
        assert stale.status_code == 200, stale.text
        assert [i["reason"] for i in stale.json()["ignored"]] == ["object_changed"]
        fresh = await client.post("/events", json=s3_notification(bucket, key, etag=new_etag))
        assert fresh.status_code == 202
        record = await wait_final(client, fresh.json()["executions"][0]["id"])
    assert record["status"] == "succeeded"
    assert record["input"]["etag"] == new_etag
    assert gzip.decompress(read_object(s3, bucket, record["output"]["key"])) == new


async def _overwritten_while_read(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> tuple[dict[str, Any], bytes, bytes, dict[str, Any]]:
    """Start an execution, overwrite its object (same size) mid-read, then run the new one.

    Returns the first execution's final record, both versions, and the second record.
    """
    key = "incoming/moving.bin"
    generator = random.Random(SEED + 2)
    old, new = generator.randbytes(3 * MiB), generator.randbytes(3 * MiB)
    first = s3.put_object(Bucket=bucket, Key=key, Body=old)
    gate, flows = gated_workflows(
        bucket, output_key="processed/{key}", retry={"attempts": 1, "backoff_seconds": 0}
    )
    async with running(config(moto_endpoint, flows)) as (service, client):
        event = s3_notification(bucket, key, etag=first["ETag"].strip('"'), size=len(old))
        if "VersionId" in first:
            event["Records"][0]["s3"]["object"]["versionId"] = first["VersionId"]
        started = await client.post("/events", json=event)
        assert started.status_code == 202
        execution_id = started.json()["executions"][0]["id"]

        async def reading() -> bool:
            record = (await client.get(f"/executions/{execution_id}")).json()
            steps = {step["name"]: step for step in record["steps"]}
            return "read" in steps and steps["read"]["bytes_out"] > 0

        await eventually(reading, within=20)
        second = s3.put_object(Bucket=bucket, Key=key, Body=new)
        GATES[gate].set()
        record = await wait_final(client, execution_id)
        event = s3_notification(bucket, key, etag=second["ETag"].strip('"'), size=len(new))
        if "VersionId" in second:
            event["Records"][0]["s3"]["object"]["versionId"] = second["VersionId"]
        again = await client.post("/events", json=event)
        assert again.status_code == 202
        newer = await wait_final(client, again.json()["executions"][0]["id"])
        assert service.executor.running == 0
    return record, old, new, newer


async def test_object_overwritten_mid_read_fails_with_object_changed_and_writes_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    record, _, new, newer = await _overwritten_while_read(s3, bucket, moto_endpoint)
    assert record["status"] == "failed"
    assert record["error"]["code"] == "ObjectChanged"
    assert record["error"]["step"] == "read"
    assert record["error"]["transient"] is False
    assert record["output"] is None
    # Only the newer version's execution wrote anything, and exactly its bytes.
    assert newer["status"] == "succeeded", newer["error"]
    assert keys_under(s3, bucket, "processed/") == ["processed/incoming/moving.bin"]
    assert read_object(s3, bucket, "processed/incoming/moving.bin") == new
    assert open_uploads(s3, bucket) == []


async def test_versioned_object_overwritten_mid_read_is_read_whole_from_its_version(
    s3: S3Client, versioned_bucket: str, moto_endpoint: str
) -> None:
    bucket = versioned_bucket
    record, old, new, newer = await _overwritten_while_read(s3, bucket, moto_endpoint)
    assert record["status"] == "succeeded", record["error"]
    assert newer["status"] == "succeeded", newer["error"]
    key = "processed/incoming/moving.bin"
    outputs = [
        s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
        for version in s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    ]
    # Each execution wrote exactly one version's bytes: never a mix of the two.
    assert sorted(outputs) == sorted([old, new])
    assert open_uploads(s3, bucket) == []
