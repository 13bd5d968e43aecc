"""Helpers of the reliability suite: engines, workflows, bucket inspection, deadlines."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from bridge import Stage, StageContext, run_pipeline
from steps import to_stage
from storage_adapter import StorageIO, StorageSettings, TransferSettings
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.records import ExecutionRecord, ObjectRef
from trigger_service.workflows.model import Workflow, Workflows, parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KiB = 1024
MiB = 1024 * KiB

#: Small chunks, so even small objects are read with several ranged GETs; the smallest part
#: size S3 allows (smaller ones are clamped to it), so outputs over 5 MiB go multipart.
SMALL_TRANSFER = TransferSettings(
    chunk_size=64 * KiB, read_ahead=2, part_size=5 * MiB, parts_in_flight=2
)


def storage_io(endpoint: str, *, max_attempts: int = 5) -> StorageIO:
    """A storage gateway talking to ``endpoint`` (the moto server or a fault proxy)."""
    return StorageIO.from_settings(
        StorageSettings(
            endpoint_url=endpoint,
            region="us-east-1",
            addressing_style="path",
            max_attempts=max_attempts,
            connect_timeout=5,
            read_timeout=20,
        )
    )


def engine(
    endpoint: str, transfer: TransferSettings = SMALL_TRANSFER, *, max_attempts: int = 5
) -> ExecutionEngine:
    """An execution engine against ``endpoint``."""
    return ExecutionEngine(
        storage_io(endpoint, max_attempts=max_attempts), transfer, progress_interval=5
    )


def flows(data: dict[str, Any]) -> Workflows:
    """Workflows from the ``workflows:`` mapping of a workflow file."""
    return parse_workflows({"workflows": data})


def gzip_workflow(bucket: str, *, output_prefix: str = "out/", level: int = 1) -> Workflow:
    """``zip``: gzip ``in/`` of ``bucket`` into ``<output_prefix>{key}.gz``."""
    return flows(
        {
            "zip": {
                "trigger": {"bucket": bucket, "prefix": "in/"},
                "steps": [{"gzip": {"level": level}}],
                "output": {"bucket": bucket, "key": output_prefix + "{key}.gz"},
            }
        }
    ).get("zip")


async def execute(
    run: ExecutionEngine, workflow: Workflow, bucket: str, key: str, **input_fields: Any
) -> ExecutionRecord:
    """One execution of ``workflow`` on ``s3://bucket/key`` through ``run``."""
    record = ExecutionRecord(
        workflow=workflow.name, input=ObjectRef(bucket=bucket, key=key, **input_fields)
    )
    return await run.execute(workflow, record)


class MemorySink:
    """A pipeline sink collecting the output in memory (visible only on commit)."""

    name = "write"

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        self.output: bytes | None = None

    async def consume(self, ctx: StageContext) -> None:
        """Keep every frame."""
        async for frame in ctx.input:
            self._frames.append(bytes(frame))

    async def commit(self) -> bytes:
        """The whole output."""
        self.output = b"".join(self._frames)
        return self.output

    async def abort(self) -> None:
        """Forget the frames."""
        self._frames.clear()


async def fault_free_output(workflow: Workflow, data: bytes, *, chunk_size: int) -> bytes:
    """What ``workflow``'s steps make of ``data`` read in ``chunk_size`` chunks, no storage."""

    async def source(ctx: StageContext) -> None:
        for start in range(0, len(data), chunk_size):
            await ctx.write(data[start : start + chunk_size])

    log = logging.LoggerAdapter(logging.getLogger(__name__), {})
    stages = [Stage("read", source)] + [to_stage(s, log) for s in workflow.planned_steps()]
    result = await run_pipeline(stages, MemorySink())
    return result.output


def open_uploads(s3: S3Client, bucket: str) -> list[str]:
    """Keys of the multipart uploads still open in ``bucket``."""
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def keys_under(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix`` (all pages)."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def versions_under(s3: S3Client, bucket: str, prefix: str) -> dict[str, int]:
    """How many versions each key under ``prefix`` has (delete markers excluded)."""
    counts: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
    return counts


def read_object(s3: S3Client, bucket: str, key: str) -> bytes:
    """The whole body of ``s3://bucket/key``."""
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float, interval: float = 0.05
) -> None:
    """Poll ``check`` until it is true; ``TimeoutError`` after ``within`` seconds."""
    with anyio.fail_after(within):
        while True:
            if await check():
                return
            await anyio.sleep(interval)


def wait_for(check: Callable[[], bool], *, within: float, interval: float = 0.1) -> None:
    """Blocking variant of :func:`eventually`, for tests driving a subprocess."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within} s")
        time.sleep(interval)
