"""Measured jobs for image workflows; each runs in its own process (see :mod:`benchmarks.job`)."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from benchmarks.baselines import (
    Marks,
    compress_params,
    staged_compress,
    staged_watermark,
    watermark_params,
)
from benchmarks.job import cpu_seconds
from benchmarks.jobs import OperationTimer, stage_timeline, workflow_document
from benchmarks.moto_server import READ_TIMEOUT, REGION, s3_client

if TYPE_CHECKING:
    from bridge import StageContext
    from trigger_service.workflows.model import Workflow

PHOTOS = "photos"


def marks_of(params: dict[str, Any]) -> Marks:
    """The marks named in a job's params (``logo``: a path, optional)."""
    logo = params.get("logo")
    return Marks(logo=Path(logo) if logo else None)


def load_image_workflow(marks: Marks, bucket: str = "bench-local", io: Any = None) -> Workflow:
    """The image workflow, validated and prepared (logo loaded)."""
    from trigger_service.workflows.model import parse_workflows, prepare_workflows
    from trigger_service.workflows.resources import StorageResourceLoader

    steps = [{"compress": compress_params()}, {"watermark": watermark_params(marks)}]
    document = workflow_document(PHOTOS, bucket, steps, output_key="out/{stem}.{ext}")

    async def prepare() -> Workflow:
        workflows = await prepare_workflows(parse_workflows(document), StorageResourceLoader(io))
        return workflows.get(PHOTOS)

    return anyio.run(prepare)


class MemorySink:
    """A sink that only counts the bytes it gets (nothing is stored)."""

    name = "write"

    def __init__(self) -> None:
        self.size = 0

    async def consume(self, ctx: StageContext) -> None:
        """Count every frame."""
        async for frame in ctx.input:
            self.size += len(frame)

    async def commit(self) -> int:
        """The byte count."""
        return self.size

    async def abort(self) -> None:
        """Nothing to discard."""


def pipeline_file(params: dict[str, Any]) -> dict[str, Any]:
    """The image workflow on a local file (``process_file``: file → pipeline → file)."""
    from trigger_service.execution.process import process_file

    logging.basicConfig(level=logging.ERROR)
    workflow = load_image_workflow(marks_of(params))
    source, destination = Path(params["source"]), Path(params["destination"])
    cpu_before, began = cpu_seconds(), time.perf_counter()
    report = anyio.run(process_file, workflow, source, destination)
    elapsed, cpu = time.perf_counter() - began, cpu_seconds() - cpu_before
    steps = report["steps"]
    assert isinstance(steps, list)
    decode: dict[str, Any] = next((s for s in steps if s["name"] == "decode"), {})
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "output_bytes": destination.stat().st_size,
        "decode": decode.get("details", {}),
    }


def s3_event(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """An ``ObjectCreated:Put`` notification as S3 sends it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2024-01-01T00:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0"},
                },
            }
        ]
    }


def pipeline_event(params: dict[str, Any]) -> dict[str, Any]:
    """Event → execution → committed output, through :class:`ExecutionEngine`.

    ``warmup`` executions of the same event run first in this process and are not timed (a
    long-running service is measured warm: imports, thread pools, connections made).
    """
    from benchmarks.latency import milestones
    from storage_adapter import StorageIO, StorageSettings
    from trigger_service.events.parse import parse_notification
    from trigger_service.execution.engine import ExecutionEngine
    from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef

    logging.basicConfig(level=logging.ERROR)
    io = StorageIO.from_settings(
        StorageSettings(endpoint_url=params["endpoint"], region=REGION, read_timeout=READ_TIMEOUT)
    )
    timer = OperationTimer()
    workflow = load_image_workflow(marks_of(params), params["bucket"], io)
    event = s3_event(params["bucket"], params["key"], params["size"], params["etag"])
    engine = ExecutionEngine(io)

    async def execute() -> Any:
        parsed = parse_notification(event).events[0]
        record = ExecutionRecord(
            workflow=workflow.name,
            input=ObjectRef(
                bucket=parsed.bucket, key=parsed.key, etag=parsed.etag, size=parsed.size
            ),
            source="benchmark",
        )
        return await engine.execute(workflow, record)

    def once() -> tuple[Any, float, float]:
        began = time.time()
        record = anyio.run(execute)
        if record.status is not ExecutionStatus.SUCCEEDED:
            raise RuntimeError(f"execution failed: {record.error}")
        return record, began, time.time() - began

    warmup = [round(once()[2], 4) for _ in range(int(params.get("warmup", 0)))]
    timer.attach(io.client)
    record, began, elapsed = once()
    return {
        "seconds": elapsed,
        "warmup_seconds": warmup,
        "output_key": record.output.key if record.output else None,
        "operations": timer.as_dict(),
        "milestones": milestones(record.public(), began),
        "stages": stage_timeline(record, began),
    }


def staged(params: dict[str, Any]) -> dict[str, Any]:
    """Two chained functions through an intermediate object (boto3 + Pillow).

    ``warmup`` rounds of both functions run first in this process and are not timed (warm
    functions: imports, the JPEG codec, the font and the connection ready).
    """
    client = s3_client(params["endpoint"])
    bucket, key = params["bucket"], params["key"]
    intermediate = params["output_key"] + ".intermediate.jpg"
    marks = marks_of(params)
    warmup = []
    for _ in range(int(params.get("warmup", 0))):
        began = time.perf_counter()
        staged_compress(client, bucket, key, intermediate)
        staged_watermark(client, bucket, intermediate, params["output_key"], marks)
        warmup.append(round(time.perf_counter() - began, 4))
    began = time.perf_counter()
    staged_compress(client, bucket, key, intermediate)
    middle = time.perf_counter()
    staged_watermark(client, bucket, intermediate, params["output_key"], marks)
    ended = time.perf_counter()
    client.delete_object(Bucket=bucket, Key=intermediate)
    return {
        "seconds": ended - began,
        "warmup_seconds": warmup,
        "function_1_seconds": middle - began,
        "function_2_seconds": ended - middle,
    }


def paced_decode(params: dict[str, Any]) -> dict[str, Any]:
    """The image workflow fed from memory at a network-like pace; decode progress metrics."""
    from bridge import Stage, run_pipeline
    from steps import to_stage
    from steps.image.codec.decode import decode_overlap

    logging.basicConfig(level=logging.ERROR)
    workflow = load_image_workflow(marks_of(params))
    data = Path(params["source"]).read_bytes()
    chunk, interval = int(params["chunk_bytes"]), float(params["interval_seconds"])

    async def paced(ctx: StageContext) -> None:
        for start in range(0, len(data), chunk):
            await ctx.write(data[start : start + chunk])
            await anyio.sleep(interval)

    log = logging.LoggerAdapter(logging.getLogger("bench"), {})
    stages = [Stage("read", paced)] + [to_stage(s, log) for s in workflow.planned_steps()]
    began = time.time()
    result = anyio.run(run_pipeline, stages, MemorySink())
    elapsed = time.time() - began
    decode = next(m for m in result.stages if m.name == "decode")
    extra = decode.extra

    def rel(value: Any) -> float | None:
        return None if value is None else round(float(value) - began, 4)

    return {
        "seconds": elapsed,
        "decode_done_when_input_ended": decode_overlap(decode),
        "input_ended_at": rel(decode.last_input_at),
        "decode_header_at": rel(extra.get("decode_header_at")),
        "decode_load_started_at": rel(extra.get("decode_load_started_at")),
        "decode_load_finished_at": rel(extra.get("decode_load_finished_at")),
        "decode_draft_scale": extra.get("decode_draft_scale"),
        "decode_peak_buffered_bytes": extra.get("decode_peak_buffered_bytes"),
        "output_bytes": result.output,
    }


def strip_timeline(params: dict[str, Any]) -> dict[str, Any]:
    """The image workflow on a file held in memory; when each image stage sent output.

    Times are seconds after the pipeline started: the first and last output of decode (bands
    of rows while it decodes), compress, watermark and encode, how many strips each sent, and
    when decode's ``load()`` ended.
    """
    from bridge import Stage, run_pipeline
    from steps import to_stage

    logging.basicConfig(level=logging.ERROR)
    workflow = load_image_workflow(marks_of(params))
    data = Path(params["source"]).read_bytes()

    async def feed(ctx: StageContext) -> None:
        for start in range(0, len(data), 64 * 1024):
            await ctx.write(data[start : start + 64 * 1024])

    log = logging.LoggerAdapter(logging.getLogger("bench"), {})
    stages = [Stage("read", feed)] + [to_stage(s, log) for s in workflow.planned_steps()]
    began = time.time()
    result = anyio.run(run_pipeline, stages, MemorySink())
    elapsed = time.time() - began

    def rel(value: float | None) -> float | None:
        return None if value is None else round(value - began, 4)

    timeline = {
        metrics.name: {
            "frames_out": metrics.frames_out,
            "first_output_at": rel(metrics.first_output_at),
            "last_output_at": rel(metrics.last_output_at),
            "finished_at": rel(metrics.finished_at),
        }
        for metrics in result.stages
        if metrics.name in ("decode", "compress", "watermark", "encode")
    }
    decode = next(m for m in result.stages if m.name == "decode")
    timeline["decode"]["bands"] = decode.extra.get("decode_bands", 0)
    timeline["decode"]["load_finished_at"] = rel(decode.extra.get("decode_load_finished_at"))
    return {"seconds": elapsed, "stages": timeline, "output_bytes": result.output}


def cpu_ceiling(params: dict[str, Any]) -> dict[str, Any]:
    """The workflow's own step functions on images held in memory, ``threads`` at a time."""
    from steps.image import compress_picture, decode_bytes, encode_bytes, watermark_picture

    workflow = load_image_workflow(marks_of(params))
    planned = {step.label: step for step in workflow.planned_steps()}
    decode, compress, mark = planned["decode"], planned["compress"], planned["watermark"]
    data = Path(params["source"]).read_bytes()
    images = [data] * int(params["images"])

    def one(blob: bytes) -> int:
        picture = decode_bytes(blob, decode.params)  # type: ignore[arg-type]
        picture = compress_picture(picture, compress.params)  # type: ignore[arg-type]
        picture = watermark_picture(picture, mark.resources)
        return len(encode_bytes(picture))

    began = time.perf_counter()
    with ThreadPoolExecutor(int(params["threads"])) as pool:
        sizes = list(pool.map(one, images))
    elapsed = time.perf_counter() - began
    return {"seconds": elapsed, "images": len(sizes), "images_per_second": len(sizes) / elapsed}
