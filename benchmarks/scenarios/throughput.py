"""Issue 6 #3: images per second through the service (4 executions at once) vs the CPU ceiling."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx

from benchmarks.context import Context, entry
from benchmarks.proc import run_job
from benchmarks.service import PHOTOS, ServiceProcess
from benchmarks.stats import goal, ratios, summary

RATIO_GOAL = 0.85
CEILING_THREADS = 2


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def through_service(service: ServiceProcess, keys: list[str], timeout: float = 900) -> float:
    """Start one execution per key over HTTP, wait for all; images per second."""
    with httpx.Client(base_url=service.url, timeout=60) as http:
        began = time.time()
        ids = []
        for key in keys:
            response = http.post(
                f"/workflows/{PHOTOS}/executions", json={"bucket": service.bucket, "key": key}
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
        finished: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        for execution in ids:  # they finish roughly in order: ask about the oldest only
            while True:
                record = http.get(f"/executions/{execution}").json()
                if record["status"] in ("succeeded", "failed"):
                    finished[execution] = record
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(ids) - len(finished)} executions still running")
                time.sleep(0.25)
    failed = [r for r in finished.values() if r["status"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} executions failed, e.g. {failed[0]['error']}")
    ended = max(_timestamp(r["finished_at"]) for r in finished.values())
    return len(ids) / (ended - began)


def run(ctx: Context) -> dict[str, Any]:
    """Alternate the service and the in-memory ceiling, ``runs`` times."""
    images: int = ctx.pick(2, 6, 40)
    runs: int = ctx.pick(1, 1, 1)
    photo = ctx.photo()
    data = photo.read_bytes()
    service = ctx.service()
    client = ctx.client()
    raw: list[dict[str, Any]] = []
    for index in range(runs):
        keys = [f"in/tp-{index}-{i:03d}.jpg" for i in range(images)]
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(lambda k: client.put_object(Bucket=service.bucket, Key=k, Body=data), keys)
            )
        order = ["service", "ceiling"] if index % 2 == 0 else ["ceiling", "service"]
        row: dict[str, Any] = {"run": index + 1, "order": order}
        for side in order:
            ctx.log(f"throughput: run {index + 1}/{runs} {side} ({images} images)")
            if side == "service":
                row["service_images_per_second"] = through_service(service, keys)
            else:
                params = {"source": str(photo), "images": images, "threads": CEILING_THREADS}
                result = run_job("benchmarks.image_jobs:cpu_ceiling", params)
                row["ceiling_images_per_second"] = result.get("images_per_second")
        raw.append(row)
        for key in keys:
            client.delete_object(Bucket=service.bucket, Key=key)
            client.delete_object(Bucket=service.bucket, Key="processed/" + key[3:])
    service_rate = [r["service_images_per_second"] for r in raw]
    ceiling = [r["ceiling_images_per_second"] for r in raw]
    ratio = ratios(service_rate, ceiling)
    return entry(
        "throughput",
        issue="6 #3",
        description=(
            "24 MP images through `bucketstream serve` (POST /workflows/photos/executions, 4 "
            "executions in flight, compress fit 2048 JPEG q80 + text watermark, from and to the "
            "moto server) vs the same step functions on images held in memory with 2 threads "
            "(the CPU-only ceiling)"
        ),
        parameters={"images": images, "runs": runs, "concurrency": 4, "ceiling_threads": 2},
        runs=raw,
        metrics={
            "service_images_per_second": summary(service_rate),
            "ceiling_images_per_second": summary(ceiling),
        },
        ratios={"service_over_ceiling": ratio},
        goals=[goal("service/ceiling images per second", ratio["median"], ">=", RATIO_GOAL)],
        notes=[
            "the service shares the 2 cores with the moto server; the ceiling does no I/O",
            "service time: first POST to the last execution's finished_at (polling, 4 per "
            "second on one execution at a time, does not set the time)",
        ],
    )
