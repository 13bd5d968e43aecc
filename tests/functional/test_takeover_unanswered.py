"""Taking over a fan-out execution while the storage does not answer its HEADs.

"Committed" is decided from answers only: a HEAD that fails transiently leaves every output
where it is and puts the takeover off; once the storage answers, the takeover settles it.
"""

from __future__ import annotations

import threading
import uuid
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
from trigger_service.workflows.model import Workflow, Workflows, parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024


def _fan_out(bucket: str, archive: str) -> Workflows:
    return parse_workflows(
        {
            "workflows": {
                "fan": {
                    "trigger": {"bucket": bucket, "prefix": "in/"},
                    "outputs": [
                        {"name": "zip", "steps": [{"gzip": {"level": 1}}], "key": "out/{key}.gz"},
                        {
                            "name": "copy",
                            "steps": ["passthrough"],
                            "key": "archive/{key}",
                            "bucket": archive,
                        },
                    ],
                }
            }
        }
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ExecutionStore]:
    opened = store_from_url(str(tmp_path / "executions.db"))
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


class _FailHeads:
    """Answers every HEAD of ``key`` with a 503 while ``failing`` is set."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.failing = threading.Event()
        self.failing.set()
        self.failed = 0

    def __call__(self, request: Request) -> Fault | None:
        if (
            self.failing.is_set()
            and request.operation == "HeadObject"
            and request.path.split("?")[0].endswith("/" + self.key)
        ):
            self.failed += 1
            return Fault(status=503, error_code="ServiceUnavailable")
        return None


async def test_unanswered_heads_delete_no_committed_sibling(
    s3: S3Client, moto_endpoint: str, store: ExecutionStore
) -> None:
    bucket, archive = (f"test-{uuid.uuid4().hex[:12]}" for _ in range(2))
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=archive)
    workflows = _fan_out(bucket, archive)
    workflow: Workflow = workflows.get("fan")
    s3.put_object(Bucket=bucket, Key="in/blob.bin", Body=b"data")
    record = ExecutionRecord(
        workflow="fan",
        status=ExecutionStatus.RUNNING,
        input=ObjectRef(bucket=bucket, key="in/blob.bin"),
        worker="a-worker-that-died",
        attempts=1,
    )
    stored, _ = await store.create(record)
    zip_key, copy_key = (b.render_key("in/blob.bin", stored.id) for b in workflow.branches)
    marker = output_marker(stored.id)
    # The dead attempt committed both outputs before it could record them.
    s3.put_object(Bucket=bucket, Key=zip_key, Body=b"zipped", Metadata=marker)
    s3.put_object(Bucket=archive, Key=copy_key, Body=b"copied", Metadata=marker)
    plan = _FailHeads(copy_key)
    with fault_proxy(moto_endpoint, plan) as (url, log):
        engine = ExecutionEngine(
            storage_io(url, max_attempts=2),
            TransferSettings(chunk_size=1 * MiB, read_ahead=2, part_size=5 * MiB),
        )
        executor = Executor(
            engine,
            store,
            workflows,
            concurrency=1,
            queue_size=4,
            leases=LeaseSettings("the-new-owner", lease_seconds=5),
        )
        with anyio.fail_after(60):
            queued = await executor.takeovers.expired(sqs_grace=0)

        assert plan.failed >= 1 and queued == []
        assert log.operations["DeleteObject"] == 0
        assert s3.get_object(Bucket=bucket, Key=zip_key)["Body"].read() == b"zipped"
        assert s3.get_object(Bucket=archive, Key=copy_key)["Body"].read() == b"copied"
        left = await store.get(stored.id)
        assert left.status is ExecutionStatus.RUNNING and left.attempts == 1
        assert not executor.holds(stored.id) and executor.free_queue_slots == 4

        plan.failing.clear()  # the storage answers again: a later sweep settles it
        with anyio.fail_after(60):
            assert await executor.takeovers.expired(sqs_grace=0) == []
    settled = await store.get(stored.id)
    assert settled.status is ExecutionStatus.SUCCEEDED, settled.error
    assert settled.outputs is not None
    assert sorted((o.name, o.key) for o in settled.outputs) == [
        ("copy", copy_key),
        ("zip", zip_key),
    ]
    assert s3.get_object(Bucket=bucket, Key=zip_key)["Body"].read() == b"zipped"
