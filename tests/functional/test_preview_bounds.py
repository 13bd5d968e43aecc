"""Previews are bounded (uvicorn on loopback, the storage behind a counting proxy).

A failed preview is cached (no GET again on the next page view); a preview that takes too
long answers ``404`` at its time limit and that failure is kept until the work ends; a source
over the size limit is refused from its HEAD, before any GET.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.faults import Fault, FaultLog, Request, fault_proxy
from tests.support.images import encode, noise
from tests.support.live import served
from tests.support.service import config, workflows
from tests.support.waiting import wait_for
from trigger_service.api import preview as preview_module

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _flows(bucket: str) -> Any:
    return workflows(
        bucket,
        photos={
            "trigger": {"prefix": "incoming/"},
            "steps": [{"compress": {"max_width": 64, "max_height": 64, "format": "png"}}],
            "output": {"bucket": bucket, "key": "processed/{stem}.{ext}"},
            "retry": {"attempts": 1},
        },
    )


def _run(client: httpx.Client, bucket: str, key: str) -> dict[str, Any]:
    started = client.post("/workflows/photos/executions", json={"bucket": bucket, "key": key})
    assert started.status_code == 202, started.text
    execution_id = started.json()["id"]
    record: dict[str, Any] = {}

    def final() -> bool:
        nonlocal record
        record = client.get(f"/executions/{execution_id}").json()
        return record["status"] in {"succeeded", "failed"}

    wait_for(final, within=60)
    return record


def _count(log: FaultLog, operation: str) -> int:
    with log.lock:
        return log.operations[operation]


def test_a_failed_preview_is_cached_not_read_again(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/t.png", Body=b"plain text, not a picture")
    with (
        fault_proxy(moto_endpoint, lambda request: None) as (proxy, log),
        served(config(proxy, _flows(bucket))) as (url, _),
    ):
        client = httpx.Client(base_url=url, timeout=60)
        record = _run(client, bucket, "incoming/t.png")
        assert record["status"] == "failed"
        gets, heads = _count(log, "GetObject"), _count(log, "HeadObject")
        first = client.get(f"/executions/{record['id']}/preview?side=input")
        assert first.status_code == 404
        error = first.json()["error"]
        assert error["code"] == "PreviewUnavailable" and "InvalidImage" in error["message"]
        after_first = _count(log, "GetObject"), _count(log, "HeadObject")
        assert after_first[0] > gets and after_first[1] > heads
        for _ in range(5):  # page views
            again = client.get(f"/executions/{record['id']}/preview?side=input")
            assert again.status_code == 404 and again.json()["error"] == error
        assert (_count(log, "GetObject"), _count(log, "HeadObject")) == after_first


class _HeldGets:
    """Holds the GETs of one key while :attr:`release` is not set."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.armed = False
        self.release = threading.Event()

    def __call__(self, request: Request) -> Fault | None:
        if self.armed and request.method == "GET" and self.key in request.path:
            self.release.wait(60)
        return None


def test_a_slow_preview_fails_at_its_time_limit_and_the_failure_is_kept(
    s3: S3Client, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preview_module, "PREVIEW_SECONDS", 0.5)
    s3.put_object(Bucket=bucket, Key="incoming/p.png", Body=encode(noise((200, 100)), "PNG"))
    held = _HeldGets("incoming/p.png")
    try:
        with (
            fault_proxy(moto_endpoint, held) as (proxy, log),
            served(config(proxy, _flows(bucket))) as (url, app),
        ):
            client = httpx.Client(base_url=url, timeout=60)
            record = _run(client, bucket, "incoming/p.png")
            assert record["status"] == "succeeded", record
            held.armed = True
            path = f"/executions/{record['id']}/preview?side=input"
            slow = client.get(path)
            assert slow.status_code == 404, slow.text
            assert "not made within 0.5 s" in slow.json()["error"]["message"]
            gets = _count(log, "GetObject")
            again = client.get(path)  # the work is still under way: the failure is kept
            assert again.status_code == 404 and "not made within" in again.text
            assert _count(log, "GetObject") == gets
            held.release.set()
            cache = app.state.preview_cache
            wait_for(lambda: not cache.making, within=60)
            done = client.get(path)  # the work ended on its own: its thumbnail is kept
            assert done.status_code == 200, done.text
            assert done.headers["content-type"] == "image/webp"
    finally:
        held.release.set()


def test_a_source_over_the_size_limit_is_refused_before_any_get(
    s3: S3Client, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = encode(noise((64, 64)), "PNG")
    monkeypatch.setattr(preview_module, "MAX_SOURCE_BYTES", len(body) - 1)
    s3.put_object(Bucket=bucket, Key="incoming/big.png", Body=body)
    with (
        fault_proxy(moto_endpoint, lambda request: None) as (proxy, log),
        served(config(proxy, _flows(bucket))) as (url, _),
    ):
        client = httpx.Client(base_url=url, timeout=60)
        record = _run(client, bucket, "incoming/big.png")
        gets = _count(log, "GetObject")
        answer = client.get(f"/executions/{record['id']}/preview?side=input")
        assert answer.status_code == 404
        assert f"at most {len(body) - 1}" in answer.json()["error"]["message"]
        assert _count(log, "GetObject") == gets
