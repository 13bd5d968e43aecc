"""Admission under hostile clients, over real sockets against ``bucketstream serve``.

Slow raw sync uploads are answered ``408`` and free their upload slot (their multipart
upload aborted) while webhooks keep answering ``202``; raw uploads have a slot budget of
their own, apart from the queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.service import s3_notification
from tests.support.serving import ServeProcess
from tests.support.slow import SlowUpload
from tests.support.storage import open_uploads

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SYNC = "/workflows/archive/sync-executions"


@contextmanager
def serving(
    tmp_path: Path, endpoint: str, bucket: str, *extra: str, queue: int = 3
) -> Iterator[ServeProcess]:
    """``serve`` with a gzip workflow on ``incoming/`` of ``bucket``, killed at the end."""
    config = tmp_path / "workflows.yaml"
    config.write_text(
        f"workflows:\n  archive:\n    trigger: {{bucket: {bucket}, prefix: incoming/}}\n"
        f"    steps: [{{gzip: {{level: 1}}}}]\n"
        f"    output: {{bucket: {bucket}, key: 'archived/{{key}}.gz'}}\n"
    )
    service = ServeProcess(
        config=config,
        endpoint=endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        concurrency=2,
        queue_size=queue,
        extra=extra,
    )
    try:
        service.start()
        yield service
    except BaseException:
        print(service.log()[-10_000:])
        raise
    finally:
        service.kill()


def _event(s3: S3Client, bucket: str, key: str) -> bytes:
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"hello " * 100)["ETag"]
    return json.dumps(s3_notification(bucket, key, etag=etag, size=600)).encode()


def _post_event(service: ServeProcess, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{service.url}/events",
        content=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )


def test_stalled_uploads_get_408_free_their_slots_and_never_starve_webhooks(
    s3: S3Client, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    # A queue of 3: before, three stalled uploads held every queue slot and webhooks got 429.
    with serving(
        tmp_path, moto_endpoint, bucket, "--upload-slots", "2", "--body-timeout", "4"
    ) as service:
        held = [SlowUpload(service.url, SYNC).open() for _ in range(2)]
        refused = SlowUpload(service.url, SYNC).open().answer()
        assert refused.status == 429, refused.body
        assert refused.json()["error"]["code"] == "Overloaded"
        assert "raw uploads" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"] == "1"

        answer = _post_event(service, _event(s3, bucket, "incoming/a.txt"))
        assert answer.status_code == 202, answer.text
        assert len(answer.json()["executions"]) == 1
        # the upload slots were still held while the webhook was answered
        assert SlowUpload(service.url, SYNC).open().answer().status == 429

        for upload in held:
            timed_out = upload.answer()
            assert timed_out.status == 408, timed_out.body
            error = timed_out.json()["error"]
            assert error["code"] == "RequestTimeout"
            assert "too slowly" in error["message"]
            assert timed_out.headers.get("connection") == "close"
        assert open_uploads(s3, bucket) == []  # both multipart uploads aborted
        assert [key for key in _keys(s3, bucket) if key.startswith("uploads/")] == []

        # the slots are free again: a whole upload runs
        done = httpx.post(
            f"{service.url}{SYNC}",
            content=b"payload " * 1000,
            headers={"content-type": "application/octet-stream"},
            timeout=60,
        )
        assert done.status_code == 200, done.text
        assert done.headers["x-execution-id"]


def test_a_trickling_upload_is_cut_off_by_the_minimum_rate(
    s3: S3Client, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    # One byte every 0.2 s never pauses 3 s, but stays far below 500 bytes/s.
    with serving(tmp_path, moto_endpoint, bucket, "--body-timeout", "3") as service:
        upload = SlowUpload(service.url, SYNC, trickle=0.2).open()
        answer = upload.answer()
        assert answer.status == 408, answer.body
        message = answer.json()["error"]["message"]
        assert "500 bytes/s" in message
        received = int(message.split("came too slowly: ")[1].split(" bytes")[0])
        assert received > 16  # it did keep sending: the rate cut it, not the idle timeout
        assert open_uploads(s3, bucket) == []
        health = httpx.get(f"{service.url}/healthz", timeout=10).json()
        assert health["queued"] == 0


def test_a_stalled_event_body_is_answered_408(
    bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    with serving(tmp_path, moto_endpoint, bucket, "--body-timeout", "2") as service:
        stalled = SlowUpload(service.url, "/events", content_type="application/json").open()
        answer = stalled.answer()
        assert answer.status == 408, answer.body
        assert answer.json()["error"]["code"] == "RequestTimeout"


def _keys(s3: S3Client, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
