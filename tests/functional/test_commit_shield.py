"""A workflow's timeout passing while its output is being committed, against the moto server.

The commit (PutObject of a one-part output, CompleteMultipartUpload of a larger one) is held
by a proxy until the workflow's ``timeout_seconds`` has passed. The write lands; the record
must say so: succeeded with that output, never failed with an output that exists.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from storage_adapter import TransferSettings
from tests.support.engine import storage_io
from tests.support.faults import Fault, Request, fault_proxy
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.executor import Executor
from trigger_service.execution.leases import LeaseSettings
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.store import ExecutionStore, store_from_url
from trigger_service.workflows.loops import output_marker
from trigger_service.workflows.model import parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
TIMEOUT = 5.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ExecutionStore]:
    opened = store_from_url(str(tmp_path / "executions.db"))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


class _HoldCommit:
    """Holds the commit request until ``TIMEOUT`` (plus a second) after the first request."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.first: float | None = None
        self.held = 0
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Fault | None:
        with self.lock:
            if self.first is None:
                self.first = time.monotonic()
            first = self.first
        if request.operation != self.operation:
            return None
        self.held += 1
        return Fault(delay_seconds=max(first + TIMEOUT + 1 - time.monotonic(), 0.0))


@pytest.mark.parametrize(
    ("size", "operation"),
    [(64 * 1024, "PutObject"), (7 * MiB, "CompleteMultipartUpload")],
)
async def test_a_commit_the_timeout_overtakes_is_recorded_as_succeeded(
    s3: S3Client,
    bucket: str,
    moto_endpoint: str,
    store: ExecutionStore,
    size: int,
    operation: str,
) -> None:
    data = os.urandom(size)
    s3.put_object(Bucket=bucket, Key="in/blob.bin", Body=data)
    workflows = parse_workflows(
        {
            "workflows": {
                "copy": {
                    "trigger": {"bucket": bucket, "prefix": "in/"},
                    "steps": ["passthrough"],
                    "output": {"bucket": bucket, "key": "out/{key}"},
                    "timeout_seconds": TIMEOUT,
                }
            }
        }
    )
    workflow = workflows.get("copy")
    plan = _HoldCommit(operation)
    with fault_proxy(moto_endpoint, plan) as (url, _log):
        engine = ExecutionEngine(
            storage_io(url), TransferSettings(chunk_size=1 * MiB, read_ahead=2, part_size=5 * MiB)
        )
        executor = Executor(
            engine,
            store,
            workflows,
            concurrency=1,
            queue_size=1,
            leases=LeaseSettings("worker", lease_seconds=60),
        )
        record, _ = await store.create(
            ExecutionRecord(
                workflow="copy",
                input=ObjectRef(bucket=bucket, key="in/blob.bin"),
                worker="worker",
            ),
            lease_seconds=60,
        )
        began = time.monotonic()
        with anyio.fail_after(120):
            async with anyio.create_task_group() as group:
                await group.start(executor.run)
                record = await executor.run_now(executor.reserve(), workflow, record)
                group.cancel_scope.cancel()
        elapsed = time.monotonic() - began
    assert plan.held == 1 and elapsed > TIMEOUT  # the commit outlasted the timeout
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert record.output is not None and record.error is None
    written = s3.get_object(Bucket=bucket, Key=record.output.key)
    assert written["Body"].read() == data
    assert written["Metadata"] == output_marker(record.id)
    stored = await store.get(record.id)
    assert stored.status is ExecutionStatus.SUCCEEDED and stored.output == record.output
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
