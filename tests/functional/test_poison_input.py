"""A poison input — its worker died twice while running it — is quarantined as PoisonInput."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.service import archive_workflows, config, running
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


def _left_by_a_dead_worker(bucket: str, status: ExecutionStatus, crashes: int) -> ExecutionRecord:
    return ExecutionRecord(
        workflow="archive",
        status=status,
        input=ObjectRef(bucket=bucket, key="incoming/x.bin"),
        source="webhook",
        worker="dead-worker",
        attempts=1,
        crashes=crashes,
    )


async def test_a_second_death_while_running_quarantines_the_input(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")
    cfg = config(moto_endpoint, archive_workflows(bucket))
    async with running(cfg) as (service, client):
        first = _left_by_a_dead_worker(bucket, ExecutionStatus.RUNNING, crashes=0)
        second = _left_by_a_dead_worker(bucket, ExecutionStatus.RUNNING, crashes=1)
        handed_back = _left_by_a_dead_worker(bucket, ExecutionStatus.QUEUED, crashes=1)
        for record in (first, second, handed_back):
            await service.store.create(record)  # no lease: expired
        await service.executor.take_over_expired(sqs_grace=0)
        poisoned = await service.store.get(second.id)
        assert poisoned.status is ExecutionStatus.FAILED
        assert poisoned.error is not None
        assert poisoned.error.code == "PoisonInput"
        assert poisoned.error.transient is False
        assert poisoned.crashes == 2
        body = (await client.get(f"/executions/{second.id}")).json()
        assert body["error"]["code"] == "PoisonInput"
        for survivor in (first.id, handed_back.id):
            record = await service.executor.wait_final(survivor)
            assert record.status is ExecutionStatus.SUCCEEDED, record.error
        assert (await service.store.get(first.id)).crashes == 1
        # a hand-back by a stopping worker is no crash, and uses no attempt
        assert (await service.store.get(handed_back.id)).crashes == 1
