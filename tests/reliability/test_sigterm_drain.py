"""SIGTERM of a real ``bucketstream serve``: new work answers 503, the running one finishes."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.service import dumps, s3_notification, unique
from tests.support.serving import ServeProcess
from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

WORKFLOW = """
workflows:
  copy:
    trigger: {{bucket: {bucket}, prefix: "incoming/"}}
    steps:
      - "tests.reliability.steps_under_test:parking": {{park_dir: "{park_dir}", after_bytes: 1}}
    output: {{bucket: {bucket}, key: "copied/{{key}}"}}
    retry: {{attempts: 1, backoff_seconds: 0}}
"""


def test_sigterm_lets_the_running_execution_finish_and_refuses_new_webhooks(
    s3: S3Client, moto_endpoint: str, tmp_path: Path
) -> None:
    bucket = unique("drain")
    s3.create_bucket(Bucket=bucket)
    park_dir = tmp_path / "parking"
    park_dir.mkdir()
    (park_dir / "park").touch()
    config = tmp_path / "workflows.yaml"
    config.write_text(WORKFLOW.format(bucket=bucket, park_dir=park_dir))
    etag = s3.put_object(Bucket=bucket, Key="incoming/a.bin", Body=b"a" * 1024)["ETag"]
    etag_b = s3.put_object(Bucket=bucket, Key="incoming/b.bin", Body=b"b")["ETag"]
    store = tmp_path / "executions.db"
    service = ServeProcess(
        config=config,
        endpoint=moto_endpoint,
        store=store,
        log_path=tmp_path / "serve.log",
        extra=["--drain-seconds", "60"],
    )
    try:
        service.start()
        answer = httpx.post(
            f"{service.url}/events",
            content=dumps(s3_notification(bucket, "incoming/a.bin", etag=etag)),
            timeout=10,
        )
        assert answer.status_code == 202
        wait_for(lambda: bool(list(park_dir.glob("parked-*"))), within=60)
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)

        def refused() -> bool:
            response = httpx.post(
                f"{service.url}/events",
                content=dumps(s3_notification(bucket, "incoming/b.bin", etag=etag_b)),
                timeout=10,
            )
            return response.status_code == 503 and response.headers.get("Retry-After") == "1"

        wait_for(refused, within=30)
        (park_dir / "park").unlink()  # the running execution may now finish
        service.process.wait(timeout=60)
        with sqlite3.connect(store) as db:
            rows = db.execute("SELECT status, attempts FROM executions").fetchall()
        assert rows == [("succeeded", 1)], service.log()
        assert s3.get_object(Bucket=bucket, Key="copied/incoming/a.bin")["Body"].read() == (
            b"a" * 1024
        )
    finally:
        service.kill()
