"""Issue 6 #6: time to first byte of a synchronous execution vs its total time."""

from __future__ import annotations

import time
from typing import Any

import httpx

from benchmarks.context import Context, entry
from benchmarks.objects import put_generated
from benchmarks.service import BYTES, PHOTOS, ServiceProcess
from benchmarks.stats import GiB, MiB, goal, ratios, summary

BYTES_RATIO_GOAL = 0.1
IMAGE_RATIO_GOAL = 1.0


def sync_execution(service: ServiceProcess, workflow: str, key: str) -> dict[str, Any]:
    """One ``POST /workflows/{name}/sync-executions``: first-byte and total seconds."""
    url = f"{service.url}/workflows/{workflow}/sync-executions"
    body = {"bucket": service.bucket, "key": key}
    first = None
    received = 0
    began = time.perf_counter()
    with httpx.stream("POST", url, json=body, timeout=3600) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"{workflow}: HTTP {response.status_code}: {response.text[:500]}")
        for chunk in response.iter_raw():
            if first is None and chunk:
                first = time.perf_counter()
            received += len(chunk)
        execution = response.headers.get("x-execution-id")
    ended = time.perf_counter()
    assert first is not None
    return {
        "ttfb_seconds": first - began,
        "total_seconds": ended - began,
        "bytes": received,
        "execution_id": execution,
    }


def run(ctx: Context) -> dict[str, Any]:
    """Sync executions of the byte and the image workflow, ``runs`` times each."""
    size: int = ctx.pick(16 * MiB, 128 * MiB, GiB)
    runs: int = ctx.pick(1, 1, 2)
    service = ctx.service()
    client = ctx.client()
    ctx.log(f"ttfb: uploading {size // MiB} MiB")
    put_generated(client, service.bucket, "big/object.bin", size)
    client.put_object(Bucket=service.bucket, Key="in/ttfb.jpg", Body=ctx.photo().read_bytes())
    raw: list[dict[str, Any]] = []
    try:
        for index in range(runs):
            for workflow, key in ((BYTES, "big/object.bin"), (PHOTOS, "in/ttfb.jpg")):
                ctx.log(f"ttfb: run {index + 1}/{runs} {workflow}")
                raw.append({"run": index + 1, "workflow": workflow,
                            **sync_execution(service, workflow, key)})  # fmt: skip
    finally:
        for key in ("big/object.bin", "copies/object.bin", "in/ttfb.jpg", "processed/ttfb.jpg"):
            client.delete_object(Bucket=service.bucket, Key=key)
    metrics: dict[str, Any] = {}
    ratio_values: dict[str, Any] = {}
    for workflow in (BYTES, PHOTOS):
        rows = [r for r in raw if r["workflow"] == workflow]
        metrics[workflow] = {
            "ttfb_seconds": summary([r["ttfb_seconds"] for r in rows]),
            "total_seconds": summary([r["total_seconds"] for r in rows]),
            "response_bytes": rows[-1]["bytes"],
        }
        ratio_values[f"{workflow}_ttfb_over_total"] = ratios(
            [r["ttfb_seconds"] for r in rows], [r["total_seconds"] for r in rows]
        )
    return entry(
        "ttfb",
        issue="6 #6",
        description=(
            "time to the first body byte of POST /workflows/{name}/sync-executions vs the time "
            "to the end of the response, for a passthrough byte workflow and the 24 MP image "
            "workflow (output also stored)"
        ),
        parameters={"byte_object_bytes": size, "runs": runs, "client": "httpx, loopback"},
        runs=raw,
        metrics=metrics,
        ratios=ratio_values,
        goals=[
            goal(
                "byte workflow ttfb/total",
                ratio_values[f"{BYTES}_ttfb_over_total"]["median"],
                "<=",
                BYTES_RATIO_GOAL,
            ),
            goal(
                "image workflow ttfb/total",
                ratio_values[f"{PHOTOS}_ttfb_over_total"]["median"],
                "<",
                IMAGE_RATIO_GOAL,
            ),
        ],
        notes=[
            "the issue names no target; these goals are this benchmark's: a byte output starts "
            "within the first tenth of the run, an image's first byte precedes the end"
        ],
    )
