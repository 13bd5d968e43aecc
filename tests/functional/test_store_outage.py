"""PostgreSQL restarted under a running service: ``/healthz`` says so, and nothing is lost."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from tests.support.postgres import EmbeddedPostgres
from tests.support.service import archive_workflows, config, notify_queue, queue_size, running
from tests.support.storage import open_uploads, versions_under
from tests.support.waiting import eventually

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.anyio


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of this test alone: it gets stopped and started again."""
    server = EmbeddedPostgres()
    try:
        yield server
    finally:
        server.close()


async def test_store_restart_reports_503_then_200_and_loses_nothing(
    s3: S3Client,
    sqs: SQSClient,
    bucket: str,
    moto_endpoint: str,
    own_postgres: EmbeddedPostgres,
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue = notify_queue(s3, sqs, bucket)
    cfg = config(
        moto_endpoint,
        archive_workflows(bucket),
        store_path=own_postgres.url,
        queue_urls=(queue.url,),
        lease_seconds=15,
    )
    keys = [f"incoming/outage-{i}.bin" for i in range(10)]
    async with running(cfg) as (_, client):
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["store"] == "postgresql"
        for key in keys[:5]:
            s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(512 * 1024))

        async def some_started() -> bool:
            page = (await client.get("/executions")).json()
            return len(page["executions"]) >= 2

        await eventually(some_started)
        await anyio.to_thread.run_sync(own_postgres.stop)

        async def unhealthy() -> bool:
            return (await client.get("/healthz")).status_code == 503

        await eventually(unhealthy, within=30)
        body = (await client.get("/healthz")).json()
        assert body["status"] == "unavailable"
        assert body["reason"].startswith("execution store:")
        assert (await client.get("/executions")).status_code == 503
        for key in keys[5:]:  # events arriving while the store is down
            s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(512 * 1024))
        await anyio.sleep(1)
        await anyio.to_thread.run_sync(own_postgres.start)

        async def healthy() -> bool:
            return (await client.get("/healthz")).status_code == 200

        await eventually(healthy, within=30)
        records: list[dict[str, Any]] = []

        async def all_succeeded() -> bool:
            nonlocal records
            records = (await client.get("/executions", params={"limit": "100"})).json()[
                "executions"
            ]
            return len(records) == len(keys) and all(r["status"] == "succeeded" for r in records)

        await eventually(all_succeeded, within=90)

        async def drained() -> bool:
            return queue_size(sqs, queue.url) == 0

        await eventually(drained, within=60)
    assert sorted(r["input"]["key"] for r in records) == sorted(keys)
    assert versions_under(s3, bucket, "archived/") == {f"archived/{k}.gz": 1 for k in keys}
    assert open_uploads(s3, bucket) == []
