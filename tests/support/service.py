"""Helpers for the service tests: configs, a running service with an HTTP client, test steps.

The step ``gate`` is referenced from workflows by import path
(``tests.support.service:gate``): it holds every frame until the test opens the
gate named by its ``name`` parameter.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from steps import StepContext
from storage_adapter import StorageSettings, TransferSettings
from storage_adapter.retry import RetryPolicy
from tests.support.faults import Decide, Fault, Request
from tests.support.storage import MiB
from tests.support.waiting import eventually
from trigger_service.api.app import create_app
from trigger_service.cli.embedded import queue_for_buckets
from trigger_service.intake.sqs import SqsSettings
from trigger_service.records import ExecutionRecord
from trigger_service.service import Service, ServiceConfig, open_service
from trigger_service.store.protocol import ExecutionStore
from trigger_service.workflows.model import Workflows, parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

#: Gates of the ``gate`` step by name; create them inside the test's event loop.
GATES: dict[str, anyio.Event] = {}


async def gate(ctx: StepContext) -> None:
    """Forward every chunk once the gate named ``ctx.params.name`` is open."""
    await GATES[ctx.params.name].wait()
    async for chunk in ctx.input:
        await ctx.write(chunk)


#: Read timeout of :func:`proxied_storage`; a delayed answer fails like an outage would.
READ_TIMEOUT = 1.5


def proxied_storage(proxy: str) -> StorageSettings:
    """Storage through a fault proxy: no botocore retries, a short read timeout."""
    return StorageSettings(
        endpoint_url=proxy,
        region="us-east-1",
        addressing_style="path",
        max_attempts=0,
        read_timeout=READ_TIMEOUT,
    )


def failing_heads(bucket: str, key: str, fail: Callable[[int], bool]) -> Decide:
    """Time out the HEADs of ``s3://bucket/key`` whose 1-based count ``fail`` picks.

    Only the router HEADs an object (once per event or delivery); the engine reads the
    input it pinned without one.
    """
    return _failing("HEAD", bucket, key, fail, Fault(delay_seconds=READ_TIMEOUT + 1))


#: GETs of one range before the reader gives up (``RetryPolicy().attempts``).
READ_ATTEMPTS = RetryPolicy().attempts


def failing_gets(bucket: str, key: str, fail: Callable[[int], bool]) -> Decide:
    """Answer ``503 SlowDown`` at once to the GETs of ``s3://bucket/key`` whose 1-based count
    ``fail`` picks: failing :data:`READ_ATTEMPTS` in a row fails one execution attempt."""
    return _failing("GET", bucket, key, fail, Fault(status=503, error_code="SlowDown"))


def _failing(
    method: str, bucket: str, key: str, fail: Callable[[int], bool], fault: Fault
) -> Decide:
    """``fault`` for the ``method`` requests of ``s3://bucket/key`` whose count ``fail`` picks."""
    seen: list[str] = []  # appended from the proxy's threads (an append is atomic)

    def decide(request: Request) -> Fault | None:
        if request.method == method and request.path.startswith(f"/{bucket}/{key}"):
            seen.append(request.path)
            if fail(len(seen)):
                return fault
        return None

    return decide


def unique(prefix: str) -> str:
    """A short unique name (buckets, queues, gates)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def workflows(bucket: str, **specs: dict[str, Any]) -> Workflows:
    """Workflows from ``name=spec`` dicts; ``spec`` may omit the trigger bucket."""
    data: dict[str, Any] = {"workflows": {}}
    for name, spec in specs.items():
        spec = dict(spec)
        spec.setdefault("trigger", {})
        spec["trigger"] = {"bucket": bucket, **spec["trigger"]}
        spec.setdefault("output", {"bucket": bucket, "key": "processed/{key}"})
        data["workflows"][name] = spec
    return parse_workflows(data)


def gated_workflows(
    bucket: str, *, output_key: str = "out/{name}", **extra: Any
) -> tuple[str, Workflows]:
    """``held``: ``incoming/`` copied to ``output_key``, holding frames until its gate opens.

    Returns the gate's name (open it with ``GATES[name].set()``) and the workflows; call it
    inside the test's event loop, which the gate's event belongs to. ``extra`` adds workflow
    fields (``retry``, ...).
    """
    gate_name = unique("gate")
    GATES[gate_name] = anyio.Event()
    held = {
        "trigger": {"prefix": "incoming/"},
        "steps": [{"tests.support.service:gate": {"name": gate_name}}],
        "output": {"bucket": bucket, "key": output_key},
        **extra,
    }
    return gate_name, workflows(bucket, held=held)


def archive_workflows(bucket: str) -> Workflows:
    """``archive``: gzip ``incoming/`` into ``archived/{key}.gz`` of the same bucket."""
    return workflows(
        bucket,
        archive={
            "trigger": {"prefix": "incoming/"},
            "steps": [{"gzip": {"level": 1}}],
            "output": {"bucket": bucket, "key": "archived/{key}.gz"},
            "retry": {"attempts": 2, "backoff_seconds": 0},
        },
    )


def config(endpoint: str, flows: Workflows, **overrides: Any) -> ServiceConfig:
    """A small, fast service configuration against the moto server."""
    base = ServiceConfig(
        workflows=flows,
        storage=StorageSettings(endpoint_url=endpoint, region="us-east-1", addressing_style="path"),
        transfer=TransferSettings(
            chunk_size=256 * 1024, read_ahead=2, part_size=5 * MiB, parts_in_flight=2
        ),
        concurrency=2,
        queue_size=16,
        sqs=SqsSettings(wait_seconds=1, visibility_timeout=10, redelivery_delay=1),
        progress_interval=0.05,
    )
    return replace(base, **overrides)


@asynccontextmanager
async def running(
    cfg: ServiceConfig, *, store: ExecutionStore | None = None
) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    """A running service and an HTTP client talking to its app in process."""
    async with open_service(cfg, store=store) as service:
        app = create_app(service=service)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield service, client


async def wait_final(client: httpx.AsyncClient, execution_id: str) -> dict[str, Any]:
    """The execution record once it is final, read over HTTP."""
    record: dict[str, Any] = {}

    async def final() -> bool:
        nonlocal record
        record = (await client.get(f"/executions/{execution_id}")).json()
        return record["status"] in {"succeeded", "failed"}

    await eventually(final)
    return record


def s3_notification(
    bucket: str,
    key: str,
    *,
    etag: str | None,
    size: int | None = None,
    event: str = "ObjectCreated:Put",
) -> dict[str, Any]:
    """An AWS-shaped S3 notification body for one object."""
    obj: dict[str, Any] = {"key": key.replace(" ", "+")}
    if etag is not None:
        obj["eTag"] = etag
    if size is not None:
        obj["size"] = size
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-01-01T00:00:00.000Z",
                "eventName": event,
                "s3": {"bucket": {"name": bucket}, "object": obj},
            }
        ]
    }


@dataclass(frozen=True)
class Queue:
    """An SQS queue receiving a bucket's ObjectCreated notifications."""

    url: str
    arn: str


def notify_queue(s3: S3Client, sqs: SQSClient, bucket: str) -> Queue:
    """Create a queue and point ``bucket``'s ObjectCreated notifications at it."""
    url, arn = queue_for_buckets(s3, sqs, unique("events"), [bucket])
    return Queue(url, arn)


def queue_size(sqs: SQSClient, url: str) -> int:
    """Messages visible plus in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def records_of(payload: dict[str, Any]) -> list[ExecutionRecord]:
    """The execution records of a ``POST /events`` answer."""
    return [ExecutionRecord.model_validate(r) for r in payload["executions"]]


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value).encode()
