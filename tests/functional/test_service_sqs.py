"""The real trigger path: bucket → SQS notification (moto server) → poller → execution."""

from __future__ import annotations

import gzip
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from tests.support.faults import fault_proxy
from tests.support.service import (
    GATES,
    READ_ATTEMPTS,
    archive_workflows,
    config,
    failing_gets,
    failing_heads,
    gated_workflows,
    notify_queue,
    proxied_storage,
    queue_size,
    running,
    unique,
    wait_final,
    workflows,
)
from tests.support.storage import MiB
from tests.support.waiting import eventually
from trigger_service.intake.sqs import SqsSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.anyio


async def _executions(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/executions", params={"limit": "100", **params})
    assert response.status_code == 200
    executions: list[dict[str, Any]] = response.json()["executions"]
    return executions


async def test_object_put_runs_the_workflow_and_deletes_the_message(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    queue = notify_queue(s3, sqs, bucket)
    cfg = config(moto_endpoint, archive_workflows(bucket), queue_urls=(queue.url,))
    payload = os.urandom(1 * MiB) + b"tail"
    async with running(cfg) as (_, client):
        s3.put_object(Bucket=bucket, Key="incoming/photo one.bin", Body=payload)

        async def started() -> bool:
            return len(await _executions(client)) == 1

        await eventually(started)
        (summary,) = await _executions(client)
        record = await wait_final(client, summary["id"])
        assert record["status"] == "succeeded", record["error"]
        assert record["source"] == "sqs"
        assert record["input"]["key"] == "incoming/photo one.bin"
        assert record["input"]["size"] == len(payload)
        assert record["attempts"] == 1
        steps = {step["name"]: step for step in record["steps"]}
        assert list(steps) == ["read", "gzip", "write"]
        assert steps["read"]["bytes_out"] == len(payload)
        assert steps["gzip"]["bytes_in"] == len(payload)
        assert steps["write"]["bytes_in"] == record["output"]["size"]
        assert all(step["status"] == "succeeded" for step in steps.values())

        output = s3.get_object(Bucket=bucket, Key=record["output"]["key"])
        assert output["Metadata"]["bucketstream-execution"] == record["id"]
        assert gzip.decompress(output["Body"].read()) == payload

        async def acknowledged() -> bool:
            metrics = (await client.get("/metrics")).text
            deleted = 'bucketstream_sqs_messages_total{outcome="deleted"} 3.0' in metrics
            return deleted and queue_size(sqs, queue.url) == 0

        # The S3 test event, the object's event and the output's own event: all acknowledged.
        await eventually(acknowledged)
        assert len(await _executions(client)) == 1
        metrics = (await client.get("/metrics")).text
        assert 'bucketstream_executions_total{status="succeeded",workflow="archive"} 1.0' in metrics


async def test_multipart_upload_double_event_starts_one_execution(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    queue = notify_queue(s3, sqs, bucket)
    cfg = config(moto_endpoint, archive_workflows(bucket), queue_urls=(queue.url,))
    key = "incoming/big.bin"
    parts = [os.urandom(5 * MiB), os.urandom(1024)]
    async with running(cfg) as (service, client):
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        etags = [
            s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=data)["ETag"]
            for n, data in enumerate(parts, start=1)
        ]
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
            },
        )

        async def drained() -> bool:
            return queue_size(sqs, queue.url) == 0 and service.executor.running == 0

        await eventually(drained)
        (summary,) = await _executions(client)
        record = await wait_final(client, summary["id"])
        assert record["status"] == "succeeded"
        output = s3.head_object(Bucket=bucket, Key=record["output"]["key"])
        assert output["Metadata"]["bucketstream-execution"] == record["id"]
        metrics = (await client.get("/metrics")).text
        assert 'bucketstream_events_total{outcome="duplicate",source="sqs"} 1.0' in metrics
        assert 'bucketstream_events_total{outcome="started",source="sqs"} 1.0' in metrics


async def test_an_output_landing_on_another_trigger_starts_nothing(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    queue = notify_queue(s3, sqs, bucket)
    chain = workflows(
        bucket,
        stage={
            "trigger": {"prefix": "incoming/"},
            "steps": ["passthrough"],
            "output": {"bucket": bucket, "key": "staged/{name}"},
        },
        publish={
            "trigger": {"prefix": "staged/"},
            "steps": ["passthrough"],
            "output": {"bucket": bucket, "key": "final/{name}"},
        },
    )
    cfg = config(moto_endpoint, chain, queue_urls=(queue.url,))
    async with running(cfg) as (service, client):
        s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")

        async def settled() -> bool:
            executions = await _executions(client)
            return (
                queue_size(sqs, queue.url) == 0
                and len(executions) == 1
                and executions[0]["status"] == "succeeded"
            )

        await eventually(settled)
        (record,) = await _executions(client)
        assert record["workflow"] == "stage"
        assert s3.list_objects_v2(Bucket=bucket, Prefix="final/").get("KeyCount") == 0
        assert service.executor.queued == 0
        metrics = (await client.get("/metrics")).text
        assert 'bucketstream_events_total{outcome="ignored",source="sqs"}' in metrics


def _through_proxy(proxy: str, moto_endpoint: str, bucket: str, queue: str, **kw: Any) -> Any:
    flows = workflows(
        bucket,
        copy={
            "trigger": {"prefix": "incoming/"},
            "steps": ["passthrough"],
            "output": {"bucket": bucket, "key": "out/{name}"},
            "retry": {"attempts": 1, "backoff_seconds": 0},
        },
    )
    return config(
        moto_endpoint,
        flows,
        storage=proxied_storage(proxy),
        sqs_endpoint_url=moto_endpoint,
        queue_urls=(queue,),
        **kw,
    )


async def test_transient_failure_is_retried_on_redelivery_then_deleted(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    queue = notify_queue(s3, sqs, bucket)
    decide = failing_gets(bucket, "incoming/x.bin", lambda n: n <= READ_ATTEMPTS)
    with fault_proxy(moto_endpoint, decide) as (proxy, log):
        cfg = _through_proxy(proxy, moto_endpoint, bucket, queue.url)
        async with running(cfg) as (_, client):
            s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")

            async def succeeded() -> bool:
                executions = await _executions(client)
                return bool(executions) and executions[0]["status"] == "succeeded"

            await eventually(succeeded)
            (record,) = await _executions(client)
            assert record["attempts"] == 2
            assert len(log.injected) == READ_ATTEMPTS

            async def drained() -> bool:
                return queue_size(sqs, queue.url) == 0

            await eventually(drained)
            metrics = (await client.get("/metrics")).text
            assert 'bucketstream_sqs_messages_total{outcome="redelivered"} 1.0' in metrics


async def test_message_is_deleted_after_max_receive_and_the_failure_recorded(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    queue = notify_queue(s3, sqs, bucket)
    decide = failing_gets(bucket, "incoming/x.bin", lambda n: True)
    settings = SqsSettings(wait_seconds=1, visibility_timeout=10, redelivery_delay=1, max_receive=2)
    with fault_proxy(moto_endpoint, decide) as (proxy, log):
        cfg = _through_proxy(proxy, moto_endpoint, bucket, queue.url, sqs=settings)
        async with running(cfg) as (service, client):
            s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")

            async def gave_up() -> bool:
                return len(log.injected) == 2 * READ_ATTEMPTS and queue_size(sqs, queue.url) == 0

            await eventually(gave_up)
            (record,) = await _executions(client)
            assert record["status"] == "failed"
            assert record["error"]["code"] == "Unprocessed"
            assert "StorageUnavailable" in record["error"]["message"]
            assert record["error"]["transient"] is True
            assert record["attempts"] == 2
            assert service.executor.queued == 0
            assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount") == 0


async def test_an_object_that_cannot_be_looked_at_is_recorded_failed_at_max_receive(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    queue = notify_queue(s3, sqs, bucket)
    decide = failing_heads(bucket, "incoming/x.bin", lambda n: True)
    settings = SqsSettings(wait_seconds=1, visibility_timeout=10, redelivery_delay=1, max_receive=2)
    with fault_proxy(moto_endpoint, decide) as (proxy, log):
        cfg = _through_proxy(proxy, moto_endpoint, bucket, queue.url, sqs=settings)
        async with running(cfg) as (_, client):
            s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")

            async def recorded() -> bool:
                return bool(await _executions(client)) and queue_size(sqs, queue.url) == 0

            await eventually(recorded)
            (record,) = await _executions(client)
            assert record["status"] == "failed"
            assert record["error"]["code"] == "Unprocessed"
            assert "StorageUnavailable" in record["error"]["message"]
            assert record["attempts"] == 0
            assert len(log.injected) == 2


async def test_visibility_is_extended_while_the_execution_runs(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    queue = notify_queue(s3, sqs, bucket)
    gate, flows = gated_workflows(bucket)
    settings = SqsSettings(wait_seconds=1, visibility_timeout=2, redelivery_delay=1)
    cfg = config(moto_endpoint, flows, queue_urls=(queue.url,), sqs=settings)
    async with running(cfg) as (service, client):
        s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")

        async def started() -> bool:
            return service.executor.running == 1

        await eventually(started)
        # Held for twice the visibility timeout: without the heartbeat the message would
        # come back and be handled again (counted as a duplicate event).
        await anyio.sleep(2 * settings.visibility_timeout)
        GATES[gate].set()

        async def acknowledged() -> bool:
            return queue_size(sqs, queue.url) == 0 and service.executor.running == 0

        await eventually(acknowledged)
        metrics = (await client.get("/metrics")).text
        assert 'outcome="duplicate"' not in metrics
        assert 'bucketstream_events_total{outcome="started",source="sqs"} 1.0' in metrics


async def test_unparseable_message_is_dropped(
    sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    url = sqs.create_queue(QueueName=unique("junk"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="this is not a notification")
    cfg = config(moto_endpoint, archive_workflows(bucket), queue_urls=(url,))
    async with running(cfg) as (_, client):

        async def dropped() -> bool:
            metrics = (await client.get("/metrics")).text
            counted = 'bucketstream_sqs_messages_total{outcome="dropped"} 1.0' in metrics
            return counted and queue_size(sqs, url) == 0

        await eventually(dropped)


def test_redelivery_back_off_is_exponential_capped_and_jittered() -> None:
    import random

    settings = SqsSettings(redelivery_delay=2, redelivery_cap=60)
    rng = random.Random(7)
    for receives in range(1, 12):
        ceiling = min(60, 2 * 2 ** (receives - 1))
        delays = {settings.backoff(receives, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (receives, delays)
        if ceiling >= 8:
            assert len(delays) > 1  # jittered
    # ten deliveries with the defaults span at least 8.5 minutes (at most 17) of trouble
    defaults = SqsSettings()
    low = sum(defaults.backoff(n, random.Random(0)) for n in range(1, defaults.max_receive))
    assert low >= 511


async def test_a_queue_with_a_redrive_policy_gets_its_exhausted_message_moved_by_sqs(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    import json

    queue = notify_queue(s3, sqs, bucket)
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}
    sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={"RedrivePolicy": json.dumps(policy)})
    decide = failing_heads(bucket, "incoming/x.bin", lambda n: True)
    # max_receive 1 would delete at the first delivery without a redrive policy
    settings = SqsSettings(wait_seconds=1, visibility_timeout=10, redelivery_delay=1, max_receive=1)
    with fault_proxy(moto_endpoint, decide) as (proxy, log):
        cfg = _through_proxy(proxy, moto_endpoint, bucket, queue.url, sqs=settings)
        async with running(cfg) as (_, client):
            s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")

            async def moved() -> bool:
                return queue_size(sqs, dlq) == 1 and queue_size(sqs, queue.url) == 0

            await eventually(moved)
            assert len(log.injected) >= 2
            assert await _executions(client) == []  # left to the DLQ, not recorded as lost
            metrics = (await client.get("/metrics")).text
            assert 'outcome="unprocessed"' not in metrics


def test_sqs_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        SqsSettings(wait_seconds=21)
    with pytest.raises(ValueError):
        replace(SqsSettings(), max_receive=0)


async def test_receiving_stops_while_the_store_is_down(
    s3: S3Client, sqs: SQSClient, bucket: str, moto_endpoint: str
) -> None:
    from tests.support.serving import describe_queue
    from trigger_service.errors import StoreUnavailable

    queue = notify_queue(s3, sqs, bucket)
    cfg = config(moto_endpoint, archive_workflows(bucket), queue_urls=(queue.url,))
    async with running(cfg) as (service, client):
        ping = service.store.ping
        down = True

        async def flaky_ping() -> None:
            if down:
                raise StoreUnavailable("the store is down (test)")
            await ping()

        service.store.ping = flaky_ping  # type: ignore[method-assign]
        await anyio.sleep(1.5)  # the health answer is kept one second
        s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")
        await anyio.sleep(3 * cfg.sqs.wait_seconds + 1)
        messages = describe_queue(queue.url)
        assert messages and all(m["received"] == 0 for m in messages), messages
        assert (await client.get("/healthz")).status_code == 503
        down = False

        async def processed() -> bool:
            executions = await _executions(client)
            return bool(executions) and executions[0]["status"] == "succeeded"

        await eventually(processed)
        metrics = (await client.get("/metrics")).text
        assert 'bucketstream_sqs_messages_total{outcome="paused"}' in metrics
