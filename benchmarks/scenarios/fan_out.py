"""Issue 12: three renditions in one fan-out execution vs three single-output executions."""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context, entry
from benchmarks.fan_out_jobs import RENDITIONS
from benchmarks.objects import new_bucket
from benchmarks.proc import JobResult, run_job
from benchmarks.stats import goal, ratios, summary

TIME_GOAL = 0.5
BYTES_GOAL = 0.6
RSS_GOAL = 1.3
JOB = "benchmarks.fan_out_jobs:renditions"


def _row(result: JobResult) -> dict[str, Any]:
    keys = ("seconds", "bytes_read", "get_requests", "decodes", "decode_draft_scale",
            "output_bytes")  # fmt: skip
    return {**{k: result.get(k) for k in keys}, "peak_rss_mb": round(result.peak_rss_mb, 1)}


def run(ctx: Context) -> dict[str, Any]:
    """Per run: the fan-out execution, then each single-output one, each in its own process."""
    photo = ctx.photo()
    client = ctx.client()
    bucket = new_bucket(client, "bench-fan-out")
    key = f"in/{photo.name}"
    client.upload_file(str(photo), bucket, key)
    runs: int = ctx.pick(1, 1, 3)
    names = [r["name"] for r in RENDITIONS]
    raw: list[dict[str, Any]] = []
    for index in range(runs):
        row: dict[str, Any] = {"run": index + 1}
        order = ["all", *names] if index % 2 == 0 else [*names, "all"]
        for output in order:
            ctx.log(f"fan_out: run {index + 1}/{runs} {output}")
            params = {"endpoint": ctx.endpoint, "bucket": bucket, "key": key, "output": output}
            result = run_job(JOB, params, server_pid=ctx.server.pid)
            row["fan_out" if output == "all" else output] = _row(result)
        singles = [row[name] for name in names]
        row["singles_seconds"] = sum(s["seconds"] for s in singles)
        row["singles_bytes_read"] = sum(s["bytes_read"] for s in singles)
        row["largest_single_peak_rss_mb"] = max(s["peak_rss_mb"] for s in singles)
        raw.append(row)
    fan = [r["fan_out"] for r in raw]
    ratio_values = {
        "fan_out_over_singles_seconds": ratios(
            [f["seconds"] for f in fan], [r["singles_seconds"] for r in raw]
        ),
        "fan_out_over_singles_bytes_read": ratios(
            [f["bytes_read"] for f in fan], [r["singles_bytes_read"] for r in raw]
        ),
        "fan_out_over_one_rendition_peak_rss": ratios(
            [f["peak_rss_mb"] for f in fan], [r["largest_single_peak_rss_mb"] for r in raw]
        ),
    }
    metrics = {
        "fan_out_seconds": summary([f["seconds"] for f in fan]),
        "singles_seconds": summary([r["singles_seconds"] for r in raw]),
        "fan_out_peak_rss_mb": summary([f["peak_rss_mb"] for f in fan], digits=1),
        "largest_single_peak_rss_mb": summary(
            [r["largest_single_peak_rss_mb"] for r in raw], digits=1
        ),
        "fan_out_decodes": fan[-1]["decodes"],
    }
    goals = [
        goal("fan-out/three executions wall",
             ratio_values["fan_out_over_singles_seconds"]["median"], "<=", TIME_GOAL),
        goal("fan-out/three executions bytes read",
             ratio_values["fan_out_over_singles_bytes_read"]["median"], "<=", BYTES_GOAL),
        goal("fan-out/one rendition peak RSS",
             ratio_values["fan_out_over_one_rendition_peak_rss"]["median"], "<=", RSS_GOAL),
    ]  # fmt: skip
    return entry(
        "fan_out",
        issue="12",
        description=(
            "three renditions of a 24 MP JPEG (320 px WebP, 1024 px JPEG + text watermark, "
            "2048 px WebP) by one fan-out execution (one read, one decode, a tee) vs three "
            "single-output executions of the same object on the same moto server; each "
            "execution in its own process (peak RSS per process)"
        ),
        parameters={"image": f"{photo.name} ({photo.stat().st_size} bytes)", "runs": runs},
        runs=raw,
        metrics=metrics,
        ratios=ratio_values,
        goals=goals,
        notes=[
            "peak RSS baseline: the largest of the three single-output executions",
            "the singles decode at their own shrink-on-load scale (1/8, 1/4, 1/2); the fan-out "
            "decodes once at the largest branch's (1/2)",
        ],
    )
