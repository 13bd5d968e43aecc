"""``bucketstream serve`` and the embedded S3 + SQS it starts when no endpoint is configured."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import httpx

from tests.support.service import unique
from trigger_service.cli.embedded import EMBEDDED_CREDENTIALS, embedded_storage, free_port

DEADLINE = 60.0


def test_embedded_storage_provisions_buckets_queue_and_notification() -> None:
    watched, quiet = unique("watched"), unique("quiet")
    before = os.environ.get("AWS_ACCESS_KEY_ID")
    with embedded_storage([watched, quiet], notify=[watched], queue_name=unique("q")) as local:
        assert os.environ["AWS_ACCESS_KEY_ID"] == EMBEDDED_CREDENTIALS[0]
        assert local.endpoint_url.startswith("http://127.0.0.1:")
        s3, sqs = local.s3_client(), local.sqs_client()
        assert {watched, quiet} <= {b["Name"] for b in s3.list_buckets()["Buckets"]}
        s3.put_object(Bucket=quiet, Key="a", Body=b"1")
        s3.put_object(Bucket=watched, Key="b", Body=b"2")
        bodies = [
            json.loads(m["Body"])
            for m in sqs.receive_message(
                QueueUrl=local.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
        ]
        buckets = [r["s3"]["bucket"]["name"] for body in bodies for r in body.get("Records", [])]
        assert buckets == [watched]
        settings = local.storage_settings()
        assert settings.endpoint_url == local.endpoint_url
        assert settings.addressing_style == "path"
    assert os.environ.get("AWS_ACCESS_KEY_ID") == before


def _lines(stream: object, sink: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        sink.put(line)


def test_serve_with_no_endpoint_runs_the_builtin_workflow_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    for name in ("BUCKETSTREAM_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        env.pop(name, None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from trigger_service.cli.commands import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(process.stdout, output), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + DEADLINE
        endpoint = None
        while endpoint is None:
            seen.append(output.get(timeout=max(deadline - time.monotonic(), 0.1)))
            match = re.search(r"Embedded S3 \+ SQS: (http://\S+)", seen[-1])
            endpoint = match.group(1) if match else None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "".join(seen)
                time.sleep(0.1)
            s3 = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id=EMBEDDED_CREDENTIALS[0],
                aws_secret_access_key=EMBEDDED_CREDENTIALS[1],
            )
            s3.put_object(Bucket="uploads", Key="incoming/photo.jpg", Body=b"not really a jpeg")
            while True:
                executions = client.get("/executions").json()["executions"]
                if executions and executions[0]["status"] in {"succeeded", "failed"}:
                    break
                assert time.monotonic() < deadline, "".join(seen)
                time.sleep(0.1)
            (record,) = executions
            assert record["status"] == "succeeded", record["error"]
            assert record["source"] == "sqs"
            assert record["output"]["key"] == "archived/incoming/photo.jpg.gz"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
    reader.join(timeout=10)
    while not output.empty():
        seen.append(output.get())
    text = "".join(seen)
    assert "aws --endpoint-url" in text and "s3://uploads/incoming/photo.jpg" in text
    assert "upload_file('photo.jpg', 'uploads', 'incoming/photo.jpg')" in text
    assert "Execution store: in memory" in text
    assert list(tmp_path.iterdir()) == []
