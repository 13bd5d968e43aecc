"""Engines and workflows for tests that run executions without the service."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bridge import Stage, StageContext, run_pipeline
from steps import to_stage
from storage_adapter import StorageIO, StorageSettings, TransferSettings
from tests.support.fakes import MemorySink
from tests.support.storage import KiB, MiB
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.records import ExecutionRecord, ObjectRef
from trigger_service.workflows.model import Workflow, Workflows, parse_workflows

if TYPE_CHECKING:
    pass


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


async def fault_free_output(workflow: Workflow, data: bytes, *, chunk_size: int) -> bytes:
    """What ``workflow``'s steps make of ``data`` read in ``chunk_size`` chunks, no storage."""

    async def source(ctx: StageContext) -> None:
        for start in range(0, len(data), chunk_size):
            await ctx.write(data[start : start + chunk_size])

    log = logging.LoggerAdapter(logging.getLogger(__name__), {})
    stages = [Stage("read", source)] + [to_stage(s, log) for s in workflow.planned_steps()]
    result = await run_pipeline(stages, MemorySink(name="write"))
    return result.output
