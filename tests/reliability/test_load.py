"""Load: a burst of webhook events and a stream of real uploads through SQS.

Promise under test: no input can take the service down, and nothing is dropped silently.
``bucketstream serve`` runs as its own process (uvicorn on loopback) against a moto server in
another process. A burst of 1,000 notifications is answered 202 (accepted) or 429 (queue full,
with ``Retry-After``) — accepted + 429 == sent — and every accepted one is processed; the soak
variant then sends the refused ones again until all 1,000 are processed. Uploads notified over
SQS are each processed once and the queue drains. The service process's peak RSS is sampled
with psutil and bounded; no execution is left ``queued`` or ``running``. And one notification
holding more records than the queue can take is answered 429 part-way; sent again, it starts
only what had not started, so every record runs exactly once.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import psutil
import pytest

from tests.support.service import (
    GATES,
    config,
    gated_workflows,
    notify_queue,
    queue_size,
    running,
    s3_notification,
    unique,
)
from tests.support.serving import ServeProcess
from tests.support.storage import MiB, keys_under, open_uploads
from tests.support.waiting import eventually
from trigger_service.execution.admission import AdmissionLimits

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.anyio

BURST = 1000
QUEUE_SIZE = 100
#: Requests the burst keeps in flight (httpx's pool slows down badly with long wait queues;
#: the service still sees far more events than it can run).
CLIENT_CONNECTIONS = 16
UPLOADS = 50
SOAK_UPLOADS = 200
#: Most the service process may grow over a run.
RSS_GROWTH_LIMIT = 200 * MiB

WORKFLOW = """
workflows:
  archive:
    trigger: {{bucket: {bucket}, prefix: "incoming/"}}
    steps:
      - gzip: {{level: 1}}
    output: {{bucket: {bucket}, key: "archived/{{key}}.gz"}}
"""


@dataclass
class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a thread; keeps the peak."""

    pid: int
    interval: float = 0.05
    baseline: int = 0
    peak: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self, process: psutil.Process) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            self.samples += 1
            self._stop.wait(self.interval)

    @contextmanager
    def running(self) -> Iterator[RssSampler]:
        """Sample while the context is open."""
        process = psutil.Process(self.pid)
        self.baseline = self.peak = process.memory_info().rss
        thread = threading.Thread(target=self._run, args=(process,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=5)

    def report(self) -> str:
        """``baseline → peak (+growth)`` in MiB."""
        return (
            f"service RSS {self.baseline / MiB:.0f} MiB → peak {self.peak / MiB:.0f} MiB "
            f"(+{(self.peak - self.baseline) / MiB:.0f} MiB, {self.samples} samples)"
        )


def put_many(s3: S3Client, bucket: str, objects: dict[str, bytes]) -> dict[str, str]:
    """Upload ``objects`` from 16 threads; returns their etags."""

    def put(item: tuple[str, bytes]) -> tuple[str, str]:
        key, data = item
        return key, s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')

    with ThreadPoolExecutor(16) as pool:
        return dict(pool.map(put, objects.items()))


async def all_executions(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every execution record, following the listing's cursors."""
    records: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/executions", params=params)).json()
        records += page["executions"]
        cursor = page["next_cursor"]
        if cursor is None:
            return records
    raise AssertionError("more pages than expected")


@contextmanager
def serving(
    tmp_path: Path, endpoint: str, bucket: str, *queue_urls: str, queue: int, concurrency: int
) -> Iterator[ServeProcess]:
    """``bucketstream serve`` for the archive workflow of ``bucket``, killed at the end."""
    config = tmp_path / "workflows.yaml"
    config.write_text(WORKFLOW.format(bucket=bucket))
    service = ServeProcess(
        config=config,
        endpoint=endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        queue_urls=queue_urls,
        concurrency=concurrency,
        queue_size=queue,
    )
    try:
        service.start()
        yield service
    except BaseException:
        print(service.log()[-10_000:])
        raise
    finally:
        service.kill()


async def _burst(s3: S3Client, endpoint: str, tmp_path: Path, *, until_all_processed: bool) -> None:
    bucket = unique("burst")
    s3.create_bucket(Bucket=bucket)
    objects = {f"incoming/{i:04d}.bin": os.urandom(64) for i in range(BURST)}
    etags = put_many(s3, bucket, objects)
    bodies = {
        key: json.dumps(s3_notification(bucket, key, etag=etag, size=64)).encode()
        for key, etag in etags.items()
    }
    with serving(tmp_path, endpoint, bucket, queue=QUEUE_SIZE, concurrency=2) as service:
        assert service.process is not None
        sampler = RssSampler(service.process.pid)
        # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout, so a
        # request never goes out on a connection the server is closing.
        limits = httpx.Limits(max_connections=CLIENT_CONNECTIONS, keepalive_expiry=1.0)
        in_flight = anyio.CapacityLimiter(CLIENT_CONNECTIONS)
        async with httpx.AsyncClient(base_url=service.url, timeout=60, limits=limits) as client:

            async def send(keys: list[str]) -> dict[str, httpx.Response]:
                answers: dict[str, httpx.Response] = {}

                async def post(key: str) -> None:
                    async with in_flight:
                        answers[key] = await client.post(
                            "/events",
                            content=bodies[key],
                            headers={"content-type": "application/json"},
                        )

                async with anyio.create_task_group() as group:
                    for key in keys:
                        group.start_soon(post, key)
                return answers

            async def idle() -> bool:
                health = (await client.get("/healthz")).json()
                return bool(health["queued"] == 0 and health["running"] == 0)

            with sampler.running():
                answers = await send(list(bodies))
                statuses = Counter(response.status_code for response in answers.values())
                accepted = [k for k, r in answers.items() if r.status_code == 202]
                refused = [k for k, r in answers.items() if r.status_code == 429]
                assert set(statuses) <= {202, 429}, statuses
                assert len(accepted) + len(refused) == BURST
                assert accepted and refused, statuses  # the burst did overflow the queue
                for key in refused:
                    assert answers[key].headers["retry-after"] == "1"
                    assert answers[key].json()["error"]["code"] == "Overloaded"
                accepted_ids = {answers[k].json()["executions"][0]["id"] for k in accepted}
                assert len(accepted_ids) == len(accepted)
                await eventually(idle, within=120, interval=0.2)
                rounds = 0
                while until_all_processed and refused:
                    # A client backing off (Retry-After at least, until its earlier requests
                    # are done) gets every refused event in eventually.
                    rounds += 1
                    assert rounds <= 20, f"{len(refused)} still refused after 20 rounds"
                    await anyio.sleep(1)
                    retried = await send(refused)
                    assert {r.status_code for r in retried.values()} <= {202, 429}
                    refused = [k for k, r in retried.items() if r.status_code == 429]
                    await eventually(idle, within=120, interval=0.2)
            records = await all_executions(client)
            health = (await client.get("/healthz")).json()
    processed = BURST if until_all_processed else len(accepted)
    assert {r["id"] for r in records} >= accepted_ids
    assert len(records) == processed
    assert Counter(r["status"] for r in records) == {"succeeded": processed}
    assert health | {"status": "ok", "queued": 0, "running": 0, "store": "sqlite"} == health
    assert len(keys_under(s3, bucket, "archived/")) == processed
    assert open_uploads(s3, bucket) == []
    assert sampler.peak - sampler.baseline < RSS_GROWTH_LIMIT, sampler.report()
    print(
        f"\nwebhook burst: {BURST} events → {statuses[202]} accepted + {statuses[429]} refused "
        f"(429); {processed} processed after {rounds} retry round(s), 0 lost, 0 stuck; "
        f"{sampler.report()}"
    )


async def test_a_burst_of_webhook_events_is_accepted_or_refused_never_dropped(
    process_s3: S3Client, moto_process: str, tmp_path: Path
) -> None:
    await _burst(process_s3, moto_process, tmp_path, until_all_processed=False)


@pytest.mark.soak
async def test_every_refused_event_of_a_burst_gets_in_when_sent_again(
    process_s3: S3Client, moto_process: str, tmp_path: Path
) -> None:
    await _burst(process_s3, moto_process, tmp_path, until_all_processed=True)


async def _uploads(s3: S3Client, sqs: SQSClient, endpoint: str, tmp_path: Path, count: int) -> None:
    bucket = unique("uploads")
    s3.create_bucket(Bucket=bucket)
    queue = notify_queue(s3, sqs, bucket)
    objects = {f"incoming/{i:04d}.bin": os.urandom(32 * 1024) for i in range(count)}
    with serving(tmp_path, endpoint, bucket, queue.url, queue=64, concurrency=4) as service:
        assert service.process is not None
        sampler = RssSampler(service.process.pid)
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:

            async def done() -> bool:
                records = await all_executions(client)
                finished = sum(r["status"] in {"succeeded", "failed"} for r in records)
                return finished == count and queue_size(sqs, queue.url) == 0

            with sampler.running():
                put_many(s3, bucket, objects)
                await eventually(done, within=240, interval=0.5)
            records = await all_executions(client)
            health = (await client.get("/healthz")).json()
    assert health | {"status": "ok", "queued": 0, "running": 0, "store": "sqlite"} == health
    assert Counter(r["status"] for r in records) == {"succeeded": count}
    assert sorted(r["input"]["key"] for r in records) == sorted(objects)
    assert len(keys_under(s3, bucket, "archived/")) == count
    assert open_uploads(s3, bucket) == []
    assert sampler.peak - sampler.baseline < RSS_GROWTH_LIMIT, sampler.report()
    print(f"\nSQS uploads: {count} uploads, {count} executions succeeded; {sampler.report()}")


async def test_uploads_notified_over_sqs_are_each_processed_once(
    process_s3: S3Client, process_sqs: SQSClient, moto_process: str, tmp_path: Path
) -> None:
    await _uploads(process_s3, process_sqs, moto_process, tmp_path, UPLOADS)


@pytest.mark.soak
async def test_two_hundred_uploads_notified_over_sqs(
    process_s3: S3Client, process_sqs: SQSClient, moto_process: str, tmp_path: Path
) -> None:
    await _uploads(process_s3, process_sqs, moto_process, tmp_path, SOAK_UPLOADS)


async def test_a_notification_cut_short_by_a_full_queue_completes_on_retry_without_duplicates(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    """One body of 120 records meets a queue of 40: 429 part-way, then a retry finishes it.

    What was started before the 429 stays started; sending the same body again starts only
    the rest (the others are duplicates), so every record runs exactly once.
    """
    records = 120
    gate, flows = gated_workflows(bucket, output_key="out/{key}")
    objects = {f"incoming/{i:03d}.bin": os.urandom(16) for i in range(records)}
    etags = put_many(s3, bucket, objects)
    body = {
        "Records": [
            s3_notification(bucket, key, etag=etag)["Records"][0] for key, etag in etags.items()
        ]
    }
    # more records in one body than the default maximum (100), allowed here
    admission = AdmissionLimits(max_event_records=records)
    cfg = config(moto_endpoint, flows, concurrency=1, queue_size=40, admission=admission)
    async with running(cfg) as (service, client):
        first = await client.post("/events", json=body)
        assert first.status_code == 429, first.text
        assert first.json()["error"]["code"] == "Overloaded"
        started = await in_process_executions(client)
        assert len(started) == 41  # one running (held at the gate) and forty queued
        GATES[gate].set()
        answers = [first]
        for _ in range(20):
            await eventually(
                lambda: _idle(service.executor.queued, service.executor.running),
                within=60,
            )
            answer = await client.post("/events", json=body)
            answers.append(answer)
            if answer.status_code == 202:
                break
        assert answers[-1].status_code == 202, [a.status_code for a in answers]
        final = answers[-1].json()
        assert len({r["id"] for r in final["executions"]}) == records
        # The 41 started by the first attempt (and any later partial ones) were not restarted.
        assert {r["id"] for r in started} <= set(final["duplicates"])
        await eventually(
            lambda: _idle(service.executor.queued, service.executor.running), within=60
        )
        done = await in_process_executions(client)
    assert len(done) == records
    assert Counter(r["status"] for r in done) == {"succeeded": records}
    assert sorted(r["input"]["key"] for r in done) == sorted(objects)
    assert len(keys_under(s3, bucket, "out/")) == records


async def _idle(queued: int, running_now: int) -> bool:
    return queued == 0 and running_now == 0


async def in_process_executions(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every execution of an in-process service (one page of up to 1000)."""
    page: list[dict[str, Any]] = (await client.get("/executions", params={"limit": "1000"})).json()[
        "executions"
    ]
    return page
