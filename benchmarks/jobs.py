"""Measured jobs for byte workflows; each runs in its own process (see :mod:`benchmarks.job`)."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio

from benchmarks.moto_server import READ_TIMEOUT, REGION, s3_client


class OperationTimer:
    """Counts a boto3 client's S3 calls and their time (headers received, for GETs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, list[float]] = {}

    def attach(self, client: Any) -> OperationTimer:
        """Start timing every call ``client`` makes."""
        client.meta.events.register("before-call.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)
        return self

    def _before(self, context: dict[str, Any], **_: Any) -> None:
        context["bench_began"] = time.perf_counter()

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        began = context.get("bench_began")
        if began is not None:
            with self._lock:
                self.calls.setdefault(model.name, []).append(time.perf_counter() - began)

    def seconds(self, operation: str) -> float:
        """Total seconds spent in ``operation`` (summed over concurrent calls)."""
        return sum(self.calls.get(operation, []))

    def as_dict(self) -> dict[str, Any]:
        """Calls and summed seconds per operation."""
        return {
            name: {"calls": len(times), "seconds": round(sum(times), 4)}
            for name, times in sorted(self.calls.items())
        }


def workflow_document(
    name: str,
    bucket: str,
    steps: list[Any],
    *,
    output_key: str,
    image: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A one-workflow file (as parsed YAML) reading ``in/`` and writing ``output_key``."""
    spec: dict[str, Any] = {
        "trigger": {"bucket": bucket, "prefix": "in/"},
        "steps": steps,
        "output": {"bucket": bucket, "key": output_key},
        "timeout_seconds": 3600,
    }
    if image:
        spec["image"] = image
    return {"workflows": {name: spec}}


def stage_timeline(record: Any, origin: float) -> list[dict[str, Any]]:
    """Each stage's times in seconds after ``origin``, with its byte counts and details."""

    def rel(value: Any) -> float | None:
        return None if value is None else round(value.timestamp() - origin, 4)

    rows = []
    for step in record.steps:
        details = {
            k: (round(v - origin, 4) if k.endswith("_at") and isinstance(v, float) else v)
            for k, v in step.details.items()
        }
        rows.append(
            {
                "name": step.name,
                "status": step.status,
                "bytes_in": step.bytes_in,
                "bytes_out": step.bytes_out,
                "started": rel(step.started_at),
                "first_output": rel(step.first_output_at),
                "last_input": rel(step.last_input_at),
                "finished": rel(step.finished_at),
                "send_blocked_seconds": step.send_blocked_seconds,
                "receive_blocked_seconds": step.receive_blocked_seconds,
                "details": details,
            }
        )
    return rows


def run_workflow(params: dict[str, Any]) -> dict[str, Any]:
    """One execution of a workflow on ``s3://bucket/key`` through :class:`ExecutionEngine`."""
    from storage_adapter import StorageIO, StorageSettings, TransferSettings
    from trigger_service.execution.engine import ExecutionEngine
    from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
    from trigger_service.workflows.model import parse_workflows, prepare_workflows
    from trigger_service.workflows.resources import StorageResourceLoader

    logging.basicConfig(level=logging.ERROR)
    io = StorageIO.from_settings(
        StorageSettings(
            endpoint_url=params["endpoint"],
            region=REGION,
            read_timeout=READ_TIMEOUT,
            payload_signing=params.get("payload_signing", "auto"),
        )
    )
    timer = OperationTimer().attach(io.client)
    document = workflow_document(
        "bench",
        params["bucket"],
        params["steps"],
        output_key=params["output_key"],
        image=params.get("image"),
    )
    base_dir = Path(params.get("base_dir", "."))

    async def execute() -> tuple[Any, float, float]:
        workflows = await prepare_workflows(
            parse_workflows(document), StorageResourceLoader(io, base_dir=base_dir)
        )
        workflow = workflows.get("bench")
        record = ExecutionRecord(
            workflow="bench",
            input=ObjectRef(bucket=params["bucket"], key=params["key"]),
            source="benchmark",
        )
        began = time.time()
        transfer = TransferSettings(**params.get("transfer", {}))
        done = await ExecutionEngine(io, transfer).execute(workflow, record)
        return done, began, time.time()

    record, began, ended = anyio.run(execute)
    if record.status is not ExecutionStatus.SUCCEEDED:
        raise RuntimeError(f"execution failed: {record.error}")
    return {
        "seconds": ended - began,
        "output_size": record.output.size if record.output else None,
        "complete_seconds": timer.seconds("CompleteMultipartUpload"),
        "operations": timer.as_dict(),
        "stages": stage_timeline(record, began),
    }


def transfer_manager_copy(params: dict[str, Any]) -> dict[str, Any]:
    """boto3's ``download_fileobj`` to a temporary file, then ``upload_fileobj`` of it."""
    client = s3_client(params["endpoint"])
    timer = OperationTimer().attach(client)
    with tempfile.NamedTemporaryFile(dir=params.get("tmpdir")) as handle:
        began = time.perf_counter()
        client.download_fileobj(params["bucket"], params["key"], handle)
        handle.flush()
        downloaded = time.perf_counter()
        handle.seek(0)
        client.upload_fileobj(handle, params["bucket"], params["output_key"])
        ended = time.perf_counter()
    return {
        "seconds": ended - began,
        "download_seconds": downloaded - began,
        "upload_seconds": ended - downloaded,
        "complete_seconds": timer.seconds("CompleteMultipartUpload"),
        "operations": timer.as_dict(),
    }
