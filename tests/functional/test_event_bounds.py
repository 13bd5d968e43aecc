"""One event body is bounded before and during its HEADs (uvicorn on loopback, the storage
behind a counting proxy in front of the moto server).

A body of more records than ``max_event_records`` is refused ``413`` and one arriving at a
full queue ``429``, both without a single HEAD; the HEADs of an accepted body run at most
``head_parallel`` at once and within ``head_budget_seconds``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from tests.support.faults import Fault, FaultLog, Request, fault_proxy
from tests.support.live import HOLDS, served
from tests.support.service import config, s3_notification, workflows
from tests.support.waiting import wait_for
from trigger_service.execution.admission import AdmissionLimits

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOLD = "tests.support.live:hold"


def _archive(bucket: str, hold: str | None = None) -> Any:
    steps: list[Any] = [{"gzip": {"level": 1}}]
    if hold is not None:
        steps.insert(0, {HOLD: {"name": hold}})
    flow = {
        "trigger": {"prefix": "incoming/"},
        "steps": steps,
        "output": {"bucket": bucket, "key": "archived/{key}.gz"},
    }
    return workflows(bucket, archive=flow)


def _body(bucket: str, keys: list[str], etags: dict[str, str] | None = None) -> bytes:
    records = [
        s3_notification(bucket, key, etag=(etags or {}).get(key, '"0"'))["Records"][0]
        for key in keys
    ]
    return json.dumps({"Records": records}).encode()


def _post(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post("/events", content=body, headers={"content-type": "application/json"})


def _heads(log: FaultLog) -> int:
    with log.lock:
        return log.operations["HeadObject"]


def test_a_thousand_record_body_is_refused_413_without_a_head(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    keys = [f"incoming/{i:04d}.txt" for i in range(1000)]
    with (
        fault_proxy(moto_endpoint, lambda request: None) as (proxy, log),
        served(config(proxy, _archive(bucket))) as (url, _),
    ):
        client = httpx.Client(base_url=url, timeout=30)
        answer = _post(client, _body(bucket, keys))
        assert answer.status_code == 413, answer.text
        error = answer.json()["error"]
        assert error["code"] == "RequestTooLarge"
        assert "1000 records" in error["message"] and "at most 100" in error["message"]
        assert _heads(log) == 0
        # the documented maximum itself is accepted (100 records of one object: one start)
        etag = s3.put_object(Bucket=bucket, Key="incoming/one.txt", Body=b"1")["ETag"]
        one = {"incoming/one.txt": etag}
        at_limit = _post(client, _body(bucket, ["incoming/one.txt"] * 100, one))
        assert at_limit.status_code == 202, at_limit.text
        assert len({record["id"] for record in at_limit.json()["executions"]}) == 1


def test_a_body_arriving_at_a_full_queue_is_refused_429_before_its_heads(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    hold = uuid.uuid4().hex
    HOLDS[hold] = threading.Event()
    etags = {}
    for key in ("incoming/running.txt", "incoming/queued.txt"):
        etags[key] = s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 100)["ETag"]
    keys = [f"incoming/{i:03d}.txt" for i in range(50)]
    flows = _archive(bucket, hold)
    try:
        with (
            fault_proxy(moto_endpoint, lambda request: None) as (proxy, log),
            served(config(proxy, flows, concurrency=1, queue_size=1)) as (url, _),
        ):
            client = httpx.Client(base_url=url, timeout=30)
            for key in ("incoming/running.txt", "incoming/queued.txt"):
                started = _post(client, _body(bucket, [key], etags))
                assert started.status_code == 202, started.text
                if key.endswith("running.txt"):
                    wait_for(lambda: client.get("/healthz").json()["running"] == 1, within=30)
            assert client.get("/healthz").json()["queued"] == 1
            before = _heads(log)
            answer = _post(client, _body(bucket, keys))
            assert answer.status_code == 429, answer.text
            assert answer.json()["error"]["code"] == "Overloaded"
            assert answer.headers["retry-after"] == "1"
            assert _heads(log) == before  # refused before any of its 50 HEADs
    finally:
        HOLDS[hold].set()


class _SlowHeads:
    """Holds every HEAD ``seconds`` in the proxy, counting how many are in flight at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __call__(self, request: Request) -> Fault | None:
        if request.method != "HEAD":
            return None
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.seconds)
        with self.lock:
            self.in_flight -= 1
        return None


def test_the_heads_of_one_body_run_in_parallel_at_most_head_parallel(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    keys = [f"incoming/{i:03d}.txt" for i in range(40)]
    etags = {key: s3.put_object(Bucket=bucket, Key=key, Body=b"x")["ETag"] for key in keys}
    slow = _SlowHeads(0.3)
    limits = AdmissionLimits(head_parallel=8, head_budget_seconds=120)
    with (
        fault_proxy(moto_endpoint, slow) as (proxy, log),
        served(config(proxy, _archive(bucket), queue_size=64, admission=limits)) as (url, _),
    ):
        client = httpx.Client(base_url=url, timeout=120)
        answer = _post(client, _body(bucket, keys, etags))
        assert answer.status_code == 202, answer.text
        started = answer.json()["executions"]
        assert [record["input"]["key"] for record in started] == keys  # in the body's order
        assert _heads(log) == 40
        assert 2 <= slow.peak <= 8, slow.peak


def test_heads_past_the_budget_answer_503_and_start_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    keys = [f"incoming/{i:03d}.txt" for i in range(20)]
    etags = {key: s3.put_object(Bucket=bucket, Key=key, Body=b"x")["ETag"] for key in keys}
    slow = _SlowHeads(3.0)
    limits = AdmissionLimits(head_parallel=4, head_budget_seconds=1.0)
    with (
        fault_proxy(moto_endpoint, slow) as (proxy, log),
        served(config(proxy, _archive(bucket), queue_size=64, admission=limits)) as (url, _),
    ):
        client = httpx.Client(base_url=url, timeout=120)
        answer = _post(client, _body(bucket, keys, etags))
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert error["code"] == "StorageUnavailable"
        assert "head_budget_seconds" in error["message"]
        assert _heads(log) <= 4  # the first wave only; the rest never went out
        assert client.get("/executions").json()["executions"] == []
