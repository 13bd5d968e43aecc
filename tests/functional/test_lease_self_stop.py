"""A worker cut off from its execution store stops its runs before its leases can expire.

The store answers every renewal and every progress save with ``StoreUnavailable`` (an outage
only this worker sees); the run, held in a gated step, must be stopped by the worker itself,
on its own clock, before the lease the store granted ends — so whoever takes the execution
over is the only writer. Nothing is written and no upload is left open.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from storage_adapter import TransferSettings
from tests.support.engine import storage_io
from tests.support.service import GATES, gated_workflows
from tests.support.storage import MiB, open_uploads
from tests.support.waiting import eventually
from trigger_service.errors import StoreUnavailable
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.executor import Executor
from trigger_service.execution.leases import LeaseSettings
from trigger_service.records import ExecutionRecord, ObjectRef, utc_now
from trigger_service.store.sqlite import SQLiteExecutionStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

LEASE = 3.0


class _CutOff(SQLiteExecutionStore):
    """A store whose renewals and saves fail while ``down`` (reads still answer)."""

    down = False
    refused = 0

    def _refuse(self) -> None:
        if self.down:
            self.refused += 1
            raise StoreUnavailable("the execution store cannot be reached (test outage)")

    async def renew(self, worker: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        self._refuse()
        return await super().renew(worker, ids, lease_seconds)

    async def save(self, record: ExecutionRecord, *, lease_seconds: float | None = None) -> None:
        self._refuse()
        await super().save(record, lease_seconds=lease_seconds)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[_CutOff]:
    opened = _CutOff(tmp_path / "executions.db")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_an_unrenewed_worker_stops_its_run_before_its_lease_ends(
    s3: S3Client, bucket: str, moto_endpoint: str, store: _CutOff
) -> None:
    gate, flows = gated_workflows(bucket)
    s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data" * 1000)
    engine = ExecutionEngine(
        storage_io(moto_endpoint),
        TransferSettings(chunk_size=1 * MiB, read_ahead=2, part_size=5 * MiB),
        progress_interval=0.2,
    )
    executor = Executor(
        engine,
        store,
        flows,
        concurrency=1,
        queue_size=1,
        leases=LeaseSettings("cut-off-worker", lease_seconds=LEASE),
    )
    record, _ = await store.create(
        ExecutionRecord(
            workflow="held",
            input=ObjectRef(bucket=bucket, key="incoming/x.bin"),
            worker="cut-off-worker",
        ),
        lease_seconds=LEASE,
    )
    keeper = executor.lease_keeper
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            await group.start(executor.run)
            executor.reserve().submit(record)

            async def running() -> bool:
                return executor.running == 1

            await eventually(running)
            # While the store answers, a run outlives its lease: the renewals keep it.
            await anyio.sleep(LEASE * 1.5)
            assert executor.running == 1 and keeper.self_stopped == 0 and keeper.renewals >= 3

            store.down = True
            cut_at = time.monotonic()

            async def stopped() -> bool:
                return executor.running == 0

            await eventually(stopped, within=LEASE * 4)
            stopped_at, stopped_wall = time.monotonic(), utc_now()
            held = await store.get(record.id)
            GATES[gate].set()
            await anyio.sleep(0.3)
            group.cancel_scope.cancel()
    assert store.refused >= 1 and keeper.failed_renewals >= 1 and keeper.self_stopped == 1
    assert stopped_at - cut_at <= LEASE  # within one lease period of the last renewal
    expires = held.lease_expires_at
    assert isinstance(expires, datetime) and stopped_wall < expires  # before anyone may take it
    assert held.worker == "cut-off-worker" and not held.status.final
    assert not executor.holds(record.id)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="out/")
    assert open_uploads(s3, bucket) == []
