"""Draining a stopping service: 503 for new work, running executions finish or are handed back.

SIGTERM of a ``serve`` process runs :meth:`Service.drain` (``trigger_service.cli.drain``);
these tests drive the same drain in process against the moto server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from tests.support.service import (
    GATES,
    config,
    dumps,
    gated_workflows,
    running,
    s3_notification,
)
from tests.support.waiting import eventually
from trigger_service.records import ExecutionStatus, utc_now

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


async def test_drain_lets_the_running_execution_finish_and_refuses_new_work(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    gate, flows = gated_workflows(bucket)
    etag = s3.put_object(Bucket=bucket, Key="incoming/a.bin", Body=b"a")["ETag"]
    etag_b = s3.put_object(Bucket=bucket, Key="incoming/b.bin", Body=b"b")["ETag"]
    cfg = config(moto_endpoint, flows, drain_seconds=60)
    async with running(cfg) as (service, client):
        answer = await client.post(
            "/events", content=dumps(s3_notification(bucket, "incoming/a.bin", etag=etag))
        )
        assert answer.status_code == 202
        (execution_id,) = [e["id"] for e in answer.json()["executions"]]

        async def started() -> bool:
            return service.executor.running == 1

        await eventually(started)
        async with anyio.create_task_group() as group:
            group.start_soon(service.drain)

            async def draining() -> bool:
                return service.executor.draining

            await eventually(draining)
            refused = await client.post(
                "/events", content=dumps(s3_notification(bucket, "incoming/b.bin", etag=etag_b))
            )
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["error"]["code"] == "ServiceUnavailable"
            api = await client.post(
                "/workflows/held/executions", json={"bucket": bucket, "key": "incoming/b.bin"}
            )
            assert api.status_code == 503
            GATES[gate].set()
        record = await service.store.get(execution_id)
        assert record.status is ExecutionStatus.SUCCEEDED
        assert record.attempts == 1
        assert len((await service.store.list_executions()).executions) == 1


async def test_drain_timeout_hands_the_execution_back_without_using_an_attempt(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    _, flows = gated_workflows(bucket, retry={"attempts": 1, "backoff_seconds": 0})
    etag = s3.put_object(Bucket=bucket, Key="incoming/a.bin", Body=b"a")["ETag"]
    cfg = config(moto_endpoint, flows, drain_seconds=0.5)
    async with running(cfg) as (service, client):
        answer = await client.post(
            "/events", content=dumps(s3_notification(bucket, "incoming/a.bin", etag=etag))
        )
        (execution_id,) = [e["id"] for e in answer.json()["executions"]]

        async def started() -> bool:
            return service.executor.running == 1

        await eventually(started)
        handed = await service.drain()
        assert handed == [execution_id]
        record = await service.store.get(execution_id)
        assert record.status is ExecutionStatus.QUEUED
        assert record.attempts == 0  # the stop used no attempt
        assert record.crashes == 0
        assert record.lease_expires_at is not None and record.lease_expires_at <= utc_now()
        assert record.upload_id is None
