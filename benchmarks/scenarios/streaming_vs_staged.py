"""Issue 6 #1, 14: one streaming execution vs two staged functions through an intermediate object.

The streaming side runs twice: through ``bucketstream serve`` (an S3 notification POSTed to
``/events``, timed until the execution record says the output was committed) and through
:class:`ExecutionEngine` in a job process (no HTTP, no queue). Every side is measured warm, as
a long-running service and warm functions would be: one execution through ``serve`` is run and
discarded first, and each job process runs one untimed round before the timed one. The sides
take turns within each run (the order rotates), and each run records the load average, since
the machine is shared.
"""

from __future__ import annotations

import io
import os
from typing import Any

from PIL import Image

from benchmarks.context import Context, entry
from benchmarks.latency import ServeClient, median_milestones, phase_durations
from benchmarks.objects import empty_bucket, new_bucket
from benchmarks.proc import run_job
from benchmarks.ssim import METHOD, ssim
from benchmarks.stats import goal, ratios, summary

RATIO_GOAL = 0.35
#: Untimed rounds before each timed one (serve once per scenario; jobs once per process).
WARMUP = 1
SIDES = ("serve", "pipeline", "staged")


def load_average() -> float:
    """The one-minute load average."""
    return round(os.getloadavg()[0], 2)


def run(ctx: Context) -> dict[str, Any]:
    """Event → committed output through serve and the engine, vs download/compress/upload twice."""
    photo = ctx.photo()
    data = photo.read_bytes()
    runs: int = ctx.pick(1, 5, 9)
    client = ctx.client()
    bucket = new_bucket(client)
    etag = client.put_object(Bucket=bucket, Key="in/photo.jpg", Body=data)["ETag"]
    base = {"endpoint": ctx.endpoint, "bucket": bucket, "key": "in/photo.jpg", "warmup": WARMUP}
    serve = ServeClient(ctx.service(), client, ctx.server.pid)
    load_at_start = load_average()
    raw: list[dict[str, Any]] = []
    similarity = None
    try:
        ctx.log("streaming_vs_staged: warm-up execution through serve")
        warmup = [serve.execute(data, f"in/warmup-{i}.jpg") for i in range(WARMUP)]
        for done in warmup:
            client.delete_object(Bucket=serve.service.bucket, Key=done["output_key"])
        for index in range(runs):
            order = list(SIDES[index % 3 :] + SIDES[: index % 3])
            row: dict[str, Any] = {"run": index + 1, "order": order, "load_1m": load_average()}
            for side in order:
                ctx.log(f"streaming_vs_staged: run {index + 1}/{runs} {side}")
                if side == "serve":
                    by_serve = serve.execute(data, f"in/staged-vs-serve-{index}.jpg")
                    row["serve_seconds"] = by_serve["seconds"]
                    row["serve_milestones"] = by_serve["milestones"]
                    for name in ("service_cpu_seconds", "server_cpu_seconds"):
                        if name in by_serve:
                            row[f"serve_{name}"] = by_serve[name]
                    client.delete_object(Bucket=serve.service.bucket, Key=by_serve["output_key"])
                elif side == "pipeline":
                    params = {**base, "size": len(data), "etag": etag.strip('"')}
                    result = run_job("benchmarks.image_jobs:pipeline_event", params)
                    row["pipeline_seconds"] = result.seconds
                    row["pipeline_milestones"] = result.get("milestones")
                    row["pipeline_peak_rss_mb"] = result.peak_rss_mb
                    row["pipeline_output_key"] = result.get("output_key")
                else:
                    params = {**base, "output_key": "staged/photo.jpg"}
                    result = run_job("benchmarks.image_jobs:staged", params)
                    row["staged_seconds"] = result.seconds
                    row["staged_function_1_seconds"] = result.get("function_1_seconds")
                    row["staged_function_2_seconds"] = result.get("function_2_seconds")
                    row["staged_peak_rss_mb"] = result.peak_rss_mb
            row["serve_over_staged"] = round(row["serve_seconds"] / row["staged_seconds"], 4)
            row["pipeline_over_staged"] = round(row["pipeline_seconds"] / row["staged_seconds"], 4)
            raw.append(row)
        if raw and raw[-1].get("pipeline_output_key"):
            ours = client.get_object(Bucket=bucket, Key=raw[-1]["pipeline_output_key"])
            theirs = client.get_object(Bucket=bucket, Key="staged/photo.jpg")
            similarity = ssim(
                Image.open(io.BytesIO(ours["Body"].read())),
                Image.open(io.BytesIO(theirs["Body"].read())),
            )
    finally:
        serve.close()
        empty_bucket(client, bucket)
    pipeline = [r["pipeline_seconds"] for r in raw]
    served = [r["serve_seconds"] for r in raw]
    staged = [r["staged_seconds"] for r in raw]
    ratio = ratios(pipeline, staged)
    serve_ratio = ratios(served, staged)
    serve_points = median_milestones([r["serve_milestones"] for r in raw])
    cpu = _cpu_use(raw)
    pipeline_points = median_milestones([r["pipeline_milestones"] or {} for r in raw])
    return entry(
        "streaming_vs_staged",
        issue="6 #1, 14",
        description=(
            "same server, same JPEG, same compress (fit 2048, JPEG q80) + text watermark: (a) an "
            "S3 notification POSTed to bucketstream serve (/events) until the output is "
            "committed (the record's finished_at; 'seen' is when the client read it); (a') the "
            "same event executed by ExecutionEngine in a job process; (b) two plain boto3 + "
            "Pillow functions: download, full decode, fit 2048 (Lanczos, what Image.thumbnail "
            "does at this ratio), upload an intermediate; download it, watermark, upload"
        ),
        parameters={
            "image": f"{photo.name} ({photo.stat().st_size} bytes)",
            "runs": runs,
            "order": "the three sides take turns in every run, the first one rotating",
            "warmup": (
                f"{WARMUP} untimed execution through serve before the runs "
                f"({[w['seconds'] for w in warmup]} s); each job process runs "
                f"{WARMUP} untimed round before its timed one"
            ),
            "staged": (
                "both functions in one warm process; the event that would start function 2 "
                "is not counted (the staged side gets its trigger for free)"
            ),
            "load_average_1m": {"start": load_at_start, "end": load_average()},
        },
        runs=raw,
        metrics={
            "serve_seconds": summary(served),
            "pipeline_seconds": summary(pipeline),
            "staged_seconds": summary(staged),
            "serve_milestones_median": serve_points,
            "serve_phases_median": phase_durations(serve_points),
            "pipeline_milestones_median": pipeline_points,
            "pipeline_phases_median": phase_durations(pipeline_points),
            "pipeline_peak_rss_mb": summary([r["pipeline_peak_rss_mb"] for r in raw], digits=1),
            "staged_peak_rss_mb": summary([r["staged_peak_rss_mb"] for r in raw], digits=1),
            "ssim_pipeline_vs_staged": None if similarity is None else round(similarity, 4),
            **cpu,
        },
        ratios={"serve_over_staged_seconds": serve_ratio, "pipeline_over_staged_seconds": ratio},
        goals=[
            goal("serve event→committed / staged", serve_ratio["median"], "<=", RATIO_GOAL),
            goal("engine event→committed / staged", ratio["median"], "<=", RATIO_GOAL),
        ],
        notes=[
            f"SSIM: {METHOD}",
            "milestones: seconds after the event was sent (see benchmarks/latency.py); "
            "phases: the time between consecutive milestones, from the medians",
            "serve_*_cpu_seconds: CPU of the serve process and of the storage server from the "
            "event until the client saw the final record (its polls included); "
            "serve_cores_busy: their sum over that time, on a machine of "
            f"{os.cpu_count()} cores",
        ],
    )


def _cpu_use(raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-execution CPU of the serve side, and how many cores it kept busy."""
    rows = [r for r in raw if "serve_service_cpu_seconds" in r and "serve_server_cpu_seconds" in r]
    if not rows:
        return {}
    busy = [
        (r["serve_service_cpu_seconds"] + r["serve_server_cpu_seconds"])
        / r["serve_milestones"]["seen"]
        for r in rows
    ]
    return {
        "serve_service_cpu_seconds": summary([r["serve_service_cpu_seconds"] for r in rows]),
        "serve_server_cpu_seconds": summary([r["serve_server_cpu_seconds"] for r in rows]),
        "serve_cores_busy": summary(busy, digits=2),
    }
