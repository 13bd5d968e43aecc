"""Connections and live streams are capped (real sockets: ``serve`` and uvicorn on loopback).

``--limit-concurrency`` makes uvicorn answer ``503`` once that many connections are open;
``max_streams`` live streams at once, one more is ``503 TooManyStreams`` with
``Retry-After`` and a closed stream frees its place.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.live import served
from tests.support.service import config, workflows
from tests.support.serving import ServeProcess
from tests.support.waiting import wait_for
from trigger_service.execution.admission import AdmissionLimits

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_connections_past_limit_concurrency_are_answered_503(
    bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    config_file = tmp_path / "workflows.yaml"
    config_file.write_text(
        f"workflows:\n  a:\n    trigger: {{bucket: {bucket}, prefix: in/}}\n"
        f"    steps: [passthrough]\n    output: {{bucket: {bucket}, key: 'out/{{key}}'}}\n"
    )
    service = ServeProcess(
        config=config_file,
        endpoint=moto_endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        extra=("--limit-concurrency", "4"),
    )
    idle: list[socket.socket] = []
    try:
        service.start()
        assert httpx.get(f"{service.url}/healthz", timeout=10).status_code == 200
        for _ in range(4):  # connections that sent half a request head and wait
            sock = socket.create_connection(("127.0.0.1", service.port), timeout=30)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            idle.append(sock)

        def refused() -> bool:
            return httpx.get(f"{service.url}/healthz", timeout=10).status_code == 503

        wait_for(refused, within=30)
        answer = httpx.get(f"{service.url}/executions", timeout=10)
        assert answer.status_code == 503
        for sock in idle:
            sock.close()
        idle.clear()
        wait_for(lambda: not refused(), within=30)
    except BaseException:
        print(service.log()[-5000:])
        raise
    finally:
        for sock in idle:
            sock.close()
        service.kill()


def test_live_streams_past_max_streams_are_refused_503_until_one_closes(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/a.txt", Body=b"a" * 100)
    flows = workflows(
        bucket,
        archive={"trigger": {"prefix": "incoming/"}, "steps": [{"gzip": {"level": 1}}]},
    )
    cfg = config(moto_endpoint, flows, admission=AdmissionLimits(max_streams=2))
    with served(cfg) as (url, _), ExitStack() as streams:
        client = httpx.Client(base_url=url, timeout=30)
        started = client.post(
            "/workflows/archive/executions", json={"bucket": bucket, "key": "incoming/a.txt"}
        )
        assert started.status_code == 202, started.text
        execution_id = started.json()["id"]
        opened = []
        for _ in range(2):
            response = streams.enter_context(client.stream("GET", "/executions/stream"))
            assert response.status_code == 200
            lines = response.iter_lines()  # kept: dropping the iterator closes the stream
            assert next(lines).startswith("retry:")
            opened.append((response, lines))
        for path in ("/executions/stream", f"/executions/{execution_id}/events"):
            refused = client.get(path)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "TooManyStreams"
            assert refused.headers["retry-after"] == "10"
        opened[0][0].close()

        def accepted() -> bool:
            with client.stream("GET", f"/executions/{execution_id}/events") as response:
                return response.status_code == 200

        wait_for(accepted, within=30)
