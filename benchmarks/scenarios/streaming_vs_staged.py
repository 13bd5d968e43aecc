"""Issue 6 #1, 14: one streaming execution vs two staged functions through an intermediate object.

The streaming side runs twice: through ``bucketstream serve`` (an S3 notification POSTed to
``/events``, timed until the execution record says the output was committed) and through
:class:`ExecutionEngine` in a job process (no HTTP, no queue).
"""

from __future__ import annotations

import io
import time
from datetime import datetime
from typing import Any

import httpx
from PIL import Image

from benchmarks.context import Context, entry
from benchmarks.image_jobs import s3_event
from benchmarks.objects import empty_bucket, new_bucket
from benchmarks.proc import run_job
from benchmarks.ssim import METHOD, ssim
from benchmarks.stats import goal, ratios, summary

RATIO_GOAL = 0.35
#: How often the execution record is polled while ``serve`` runs it.
POLL_SECONDS = 0.005


def through_serve(ctx: Context, photo: bytes, index: int) -> dict[str, Any]:
    """Upload, POST the notification to ``serve``, wait for the committed output."""
    service = ctx.service()
    client = ctx.client()
    key = f"in/staged-vs-serve-{index}.jpg"
    etag = client.put_object(Bucket=service.bucket, Key=key, Body=photo)["ETag"].strip('"')
    event = s3_event(service.bucket, key, len(photo), etag)
    began = time.time()
    answer = httpx.post(f"{service.url}/events", json=event, timeout=30)
    answer.raise_for_status()
    (execution,) = answer.json()["executions"]
    deadline = time.monotonic() + 120
    while True:
        record = httpx.get(f"{service.url}/executions/{execution['id']}", timeout=30).json()
        if record["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    if record["status"] != "succeeded":
        raise RuntimeError(f"serve execution did not succeed: {record.get('error')}")
    finished = datetime.fromisoformat(record["finished_at"].replace("Z", "+00:00")).timestamp()
    output = record["output"]
    client.delete_object(Bucket=service.bucket, Key=key)
    return {"seconds": finished - began, "output_key": output["key"], "bucket": service.bucket}


def run(ctx: Context) -> dict[str, Any]:
    """Event → committed output through the engine, vs download/compress/upload twice."""
    photo = ctx.photo()
    runs: int = ctx.pick(1, 3, 6)
    client = ctx.client()
    bucket = new_bucket(client)
    etag = client.put_object(Bucket=bucket, Key="in/photo.jpg", Body=photo.read_bytes())["ETag"]
    base = {"endpoint": ctx.endpoint, "bucket": bucket, "key": "in/photo.jpg"}
    raw: list[dict[str, Any]] = []
    similarity = None
    try:
        for index in range(runs):
            sides = ["serve", "pipeline", "staged"]
            order = sides[index % 3 :] + sides[: index % 3]
            row: dict[str, Any] = {"run": index + 1, "order": order}
            for side in order:
                ctx.log(f"streaming_vs_staged: run {index + 1}/{runs} {side}")
                if side == "serve":
                    by_serve = through_serve(ctx, photo.read_bytes(), index)
                    row["serve_seconds"] = by_serve["seconds"]
                    client.delete_object(Bucket=by_serve["bucket"], Key=by_serve["output_key"])
                elif side == "pipeline":
                    params = {**base, "size": photo.stat().st_size, "etag": etag.strip('"')}
                    result = run_job("benchmarks.image_jobs:pipeline_event", params)
                    row["pipeline_seconds"] = result.seconds
                    row["pipeline_peak_rss_mb"] = result.peak_rss_mb
                    row["pipeline_output_key"] = result.get("output_key")
                else:
                    params = {**base, "output_key": "staged/photo.jpg"}
                    result = run_job("benchmarks.image_jobs:staged", params)
                    row["staged_seconds"] = result.seconds
                    row["staged_function_1_seconds"] = result.get("function_1_seconds")
                    row["staged_function_2_seconds"] = result.get("function_2_seconds")
                    row["staged_peak_rss_mb"] = result.peak_rss_mb
            raw.append(row)
        if raw and raw[-1].get("pipeline_output_key"):
            ours = client.get_object(Bucket=bucket, Key=raw[-1]["pipeline_output_key"])
            theirs = client.get_object(Bucket=bucket, Key="staged/photo.jpg")
            similarity = ssim(
                Image.open(io.BytesIO(ours["Body"].read())),
                Image.open(io.BytesIO(theirs["Body"].read())),
            )
    finally:
        empty_bucket(client, bucket)
    pipeline = [r["pipeline_seconds"] for r in raw]
    served = [r["serve_seconds"] for r in raw]
    staged = [r["staged_seconds"] for r in raw]
    ratio = ratios(pipeline, staged)
    serve_ratio = ratios(served, staged)
    return entry(
        "streaming_vs_staged",
        issue="6 #1, 14",
        description=(
            "same server, same JPEG, same compress (fit 2048, JPEG q80) + text watermark: (a) an "
            "S3 notification POSTed to bucketstream serve (/events) until its execution record "
            "says succeeded (finished_at); (a') the same event executed by ExecutionEngine in a "
            "job process; (b) two plain boto3 + Pillow functions: download, compress, upload an "
            "intermediate; download it, watermark, upload the result"
        ),
        parameters={
            "image": f"{photo.name} ({photo.stat().st_size} bytes)",
            "runs": runs,
            "staged": "both functions in one warm process (no cold starts counted)",
        },
        runs=raw,
        metrics={
            "serve_seconds": summary(served),
            "pipeline_seconds": summary(pipeline),
            "staged_seconds": summary(staged),
            "pipeline_peak_rss_mb": summary([r["pipeline_peak_rss_mb"] for r in raw], digits=1),
            "staged_peak_rss_mb": summary([r["staged_peak_rss_mb"] for r in raw], digits=1),
            "ssim_pipeline_vs_staged": None if similarity is None else round(similarity, 4),
        },
        ratios={"serve_over_staged_seconds": serve_ratio, "pipeline_over_staged_seconds": ratio},
        goals=[
            goal("serve event→committed / staged", serve_ratio["median"], "<=", RATIO_GOAL),
            goal("engine event→committed / staged", ratio["median"], "<=", RATIO_GOAL),
        ],
        notes=[f"SSIM: {METHOD}"],
    )
