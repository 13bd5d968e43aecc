"""Synchronous executions: output streamed chunked as produced, stored or not, direct uploads."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Message

from storage_adapter import TransferSettings
from tests.support.service import config, dumps, running, s3_notification, workflows
from tests.support.storage import MiB, open_uploads
from tests.support.waiting import eventually
from trigger_service.api.app import create_app
from trigger_service.api.sync import FIRST_STREAMED_AT, SyncExecutionFailed
from trigger_service.cli.embedded import free_port
from trigger_service.service import Service
from trigger_service.workflows.model import Workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

SMALL_CHUNKS = TransferSettings(
    chunk_size=64 * 1024, read_ahead=2, part_size=5 * MiB, parts_in_flight=2
)


def _flows(bucket: str) -> Workflows:
    return workflows(
        bucket,
        copy={
            "trigger": {"prefix": "incoming/"},
            "steps": ["passthrough"],
            "output": {"bucket": bucket, "key": "out/{name}"},
        },
        archive={
            "trigger": {"prefix": "incoming/"},
            "steps": [{"gzip": {"level": 1}}],
            "output": {"bucket": bucket, "key": "archived/{name}.gz"},
        },
        unpack={
            "trigger": {"prefix": "packed/"},
            "steps": ["gunzip"],
            "output": {"bucket": bucket, "key": "unpacked/{stem}"},
        },
    )


@dataclass
class Exchange:
    """What an ASGI app sent back for one request."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    completed: bool = False
    error: BaseException | None = None

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


async def _call(app: ASGIApp, path: str, body: bytes, *, query: str = "") -> Exchange:
    """One request straight through the ASGI interface, every body message kept apart."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"localhost")],
        "client": ("127.0.0.1", 12345),
        "server": ("service", 80),
    }
    delivered = False
    exchange = Exchange()

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["body"]:
            exchange.chunks.append(message["body"])
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            exchange.completed = True

    try:
        with anyio.fail_after(30):
            await app(scope, receive, send)
    except Exception as exc:
        exchange.error = exc
    return exchange


async def _record(service: Service, execution_id: str) -> dict[str, Any]:
    return (await service.store.get(execution_id)).public()


async def test_output_streams_in_chunks_before_the_input_is_fully_read(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    payload = os.urandom(4 * MiB)
    s3.put_object(Bucket=bucket, Key="incoming/big.bin", Body=payload)
    cfg = config(moto_endpoint, _flows(bucket), transfer=SMALL_CHUNKS)
    async with running(cfg) as (service, _):
        app = create_app(service=service)
        exchange = await _call(
            app,
            "/workflows/copy/sync-executions",
            dumps({"bucket": bucket, "key": "incoming/big.bin"}),
        )
        assert exchange.error is None and exchange.completed
        assert exchange.status == 200
        assert exchange.headers["content-type"] == "application/octet-stream"
        assert len(exchange.chunks) >= 32
        assert exchange.body == payload

        record = await _record(service, exchange.headers["x-execution-id"])
        assert record["status"] == "succeeded"
        assert record["source"] == "sync"
        stored = s3.get_object(Bucket=bucket, Key=record["output"]["key"])["Body"].read()
        assert stored == exchange.body
        steps = {step["name"]: step for step in record["steps"]}
        # The first output chunk reached the response before the last range was read.
        first_out = steps["write"]["details"][FIRST_STREAMED_AT]
        last_in = steps["read"]["details"]["last_range_read_at"]
        assert first_out < last_in


async def test_store_false_streams_and_writes_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    payload = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=payload)
    cfg = config(moto_endpoint, _flows(bucket), transfer=SMALL_CHUNKS)
    async with running(cfg) as (service, client):
        response = await client.post(
            "/workflows/copy/sync-executions",
            params={"store": "false"},
            json={"bucket": bucket, "key": "incoming/x.bin"},
        )
        assert response.status_code == 200
        assert response.content == payload
        record = await _record(service, response.headers["x-execution-id"])
        assert record["status"] == "succeeded"
        assert record["output"] is None
        assert record["steps"][-1]["name"] == "respond"
        assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount") == 0
        assert open_uploads(s3, bucket) == []
        bad = await client.post(
            "/workflows/copy/sync-executions",
            params={"store": "maybe"},
            json={"bucket": bucket, "key": "incoming/x.bin"},
        )
        assert bad.status_code == 400


async def test_raw_body_is_uploaded_then_processed(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    payload = os.urandom(6 * MiB + 123)

    async def body() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 256 * 1024):
            yield payload[start : start + 256 * 1024]

    cfg = config(moto_endpoint, _flows(bucket), transfer=SMALL_CHUNKS)
    async with running(cfg) as (service, client):
        response = await client.post(
            "/workflows/copy/sync-executions",
            content=body(),
            headers={"content-type": "application/octet-stream"},
        )
        assert response.status_code == 200, response.text
        assert response.content == payload
        execution_id = response.headers["x-execution-id"]
        record = await _record(service, execution_id)
        # Under the trigger's prefix, in the trigger's bucket.
        assert record["input"]["key"] == f"incoming/uploads/{execution_id}.bin"
        assert record["input"]["size"] == len(payload)
        upload = s3.head_object(Bucket=bucket, Key=record["input"]["key"])
        assert upload["Metadata"]["bucketstream-upload"] == execution_id
        assert upload["ContentType"] == "application/octet-stream"
        stored = s3.get_object(Bucket=bucket, Key=record["output"]["key"])["Body"].read()
        assert stored == payload

        # The bucket's notification for the upload (under the trigger's prefix) starts
        # nothing: the upload's marker stops it.
        event = s3_notification(bucket, record["input"]["key"], etag=None)
        ignored = await client.post("/events", json=event)
        assert ignored.json()["executions"] == []
        assert [i["reason"] for i in ignored.json()["ignored"]] == ["direct_upload"]
        flows_everything = workflows(
            bucket,
            everything={
                "steps": ["passthrough"],
                "trigger": {"suffix": ".bin"},
                "output": {"bucket": bucket, "key": "all/{stem}.out"},
            },
        )
        async with running(replace(cfg, workflows=flows_everything)) as (_, other):
            answer = await other.post("/events", json=event)
            assert [i["reason"] for i in answer.json()["ignored"]] == ["direct_upload"]


async def test_raw_body_over_the_limit_is_refused_and_nothing_kept(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    cfg = replace(
        config(moto_endpoint, _flows(bucket), transfer=SMALL_CHUNKS), max_upload_bytes=6 * MiB
    )

    async def body() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"z" * (256 * 1024)

    async with running(cfg) as (_, client):
        response = await client.post(
            "/workflows/copy/sync-executions",
            content=body(),
            headers={"content-type": "image/png"},
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "RequestTooLarge"
        assert s3.list_objects_v2(Bucket=bucket, Prefix="incoming/uploads/").get("KeyCount") == 0
        assert open_uploads(s3, bucket) == []
        assert (await client.get("/executions")).json()["executions"] == []


async def test_errors_before_the_first_byte_are_json(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/empty.bin", Body=b"")
    async with running(config(moto_endpoint, _flows(bucket))) as (service, client):
        missing = await client.post(
            "/workflows/copy/sync-executions", json={"bucket": bucket, "key": "incoming/nope"}
        )
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NoSuchKey"
        record = await _record(service, missing.headers["x-execution-id"])
        assert record["status"] == "failed"

        unknown = await client.post(
            "/workflows/nope/sync-executions", json={"bucket": bucket, "key": "k"}
        )
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "UnknownWorkflow")
        invalid = await client.post("/workflows/copy/sync-executions", json={"bucket": bucket})
        assert (invalid.status_code, invalid.json()["error"]["code"]) == (400, "InvalidRequest")

        empty = await client.post(
            "/workflows/copy/sync-executions", json={"bucket": bucket, "key": "incoming/empty.bin"}
        )
        assert empty.status_code == 200
        assert empty.content == b""
        assert s3.get_object(Bucket=bucket, Key="out/empty.bin")["ContentLength"] == 0


def _truncated_gzip() -> bytes:
    whole = gzip.compress(os.urandom(2 * MiB), compresslevel=1)
    return whole[: len(whole) - 64 * 1024]


async def test_failure_after_the_first_byte_aborts_the_response(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="packed/broken.gz", Body=_truncated_gzip())
    cfg = config(moto_endpoint, _flows(bucket), transfer=SMALL_CHUNKS)
    async with running(cfg) as (service, _):
        exchange = await _call(
            create_app(service=service),
            "/workflows/unpack/sync-executions",
            dumps({"bucket": bucket, "key": "packed/broken.gz"}),
        )
        assert exchange.status == 200
        assert exchange.chunks
        assert not exchange.completed
        assert isinstance(exchange.error, SyncExecutionFailed)
        record = await _record(service, exchange.headers["x-execution-id"])
        assert record["status"] == "failed"
        assert record["output"] is None
        assert s3.list_objects_v2(Bucket=bucket, Prefix="unpacked/").get("KeyCount") == 0
        assert open_uploads(s3, bucket) == []


async def test_over_real_http_the_response_is_chunked(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    payload = os.urandom(3 * MiB)
    s3.put_object(Bucket=bucket, Key="incoming/real.bin", Body=payload)
    s3.put_object(Bucket=bucket, Key="packed/broken.gz", Body=_truncated_gzip())
    app = create_app(config(moto_endpoint, _flows(bucket), transfer=SMALL_CHUNKS))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on")
    )
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve)

        async def started() -> bool:
            return server.started

        await eventually(started)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream(
                "POST",
                "/workflows/archive/sync-executions",
                json={"bucket": bucket, "key": "incoming/real.bin"},
            ) as response:
                assert response.status_code == 200
                assert response.headers["transfer-encoding"] == "chunked"
                assert "content-length" not in response.headers
                execution_id = response.headers["x-execution-id"]
                received = b"".join([chunk async for chunk in response.aiter_raw()])
            assert gzip.decompress(received) == payload
            record = (await client.get(f"/executions/{execution_id}")).json()
            assert record["status"] == "succeeded"
            stored = s3.get_object(Bucket=bucket, Key=record["output"]["key"])["Body"].read()
            assert stored == received

            with pytest.raises(httpx.RemoteProtocolError):
                async with client.stream(
                    "POST",
                    "/workflows/unpack/sync-executions",
                    params={"store": "false"},
                    json={"bucket": bucket, "key": "packed/broken.gz"},
                ) as broken:
                    assert broken.status_code == 200
                    async for _ in broken.aiter_raw():
                        pass
            assert (await client.get("/healthz")).json()["status"] == "ok"
        server.should_exit = True


async def test_form_and_untyped_bodies_are_neither_json_nor_an_upload(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    """A form, ``text/plain`` or untyped POST (what another site's page can send without a
    preflight, or curl's ``-d`` default) is refused with 415: nothing is read or uploaded."""
    payload = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="incoming/form.bin", Body=payload)
    cfg = config(moto_endpoint, _flows(bucket), transfer=SMALL_CHUNKS)
    async with running(cfg) as (_service, client):
        body = json.dumps({"bucket": bucket, "key": "incoming/form.bin"}).encode()
        for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
            headers = {"content-type": content_type} if content_type else {}
            response = await client.post(
                "/workflows/copy/sync-executions",
                params={"store": "false"},
                content=body,
                headers=headers,
            )
            assert response.status_code == 415, response.text
            assert "application/json" in response.json()["error"]["message"]
        assert (await client.get("/executions")).json()["executions"] == []
        assert s3.list_objects_v2(Bucket=bucket, Prefix="incoming/uploads/").get("KeyCount") == 0
        typed = await client.post(
            "/workflows/copy/sync-executions",
            params={"store": "false"},
            content=body,
            headers={"content-type": "application/json"},
        )
        assert typed.status_code == 200, typed.text
        assert typed.content == payload
