"""Issue 6 #1: one streaming execution vs two staged functions through an intermediate object."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from benchmarks.context import Context, entry
from benchmarks.objects import empty_bucket, new_bucket
from benchmarks.proc import run_job
from benchmarks.ssim import METHOD, ssim
from benchmarks.stats import goal, ratios, summary

RATIO_GOAL = 0.35


def run(ctx: Context) -> dict[str, Any]:
    """Event → committed output through the engine, vs download/compress/upload twice."""
    photo = ctx.photo()
    runs: int = ctx.pick(1, 2, 4)
    client = ctx.client()
    bucket = new_bucket(client)
    etag = client.put_object(Bucket=bucket, Key="in/photo.jpg", Body=photo.read_bytes())["ETag"]
    base = {"endpoint": ctx.endpoint, "bucket": bucket, "key": "in/photo.jpg"}
    raw: list[dict[str, Any]] = []
    similarity = None
    try:
        for index in range(runs):
            order = ["pipeline", "staged"] if index % 2 == 0 else ["staged", "pipeline"]
            row: dict[str, Any] = {"run": index + 1, "order": order}
            for side in order:
                ctx.log(f"streaming_vs_staged: run {index + 1}/{runs} {side}")
                if side == "pipeline":
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
    staged = [r["staged_seconds"] for r in raw]
    ratio = ratios(pipeline, staged)
    return entry(
        "streaming_vs_staged",
        issue="6 #1",
        description=(
            "same server, same JPEG, same compress (fit 2048, JPEG q80) + text watermark: (a) an "
            "S3 event parsed and executed by ExecutionEngine until the output is committed; (b) "
            "two plain boto3 + Pillow functions: download, compress, upload an intermediate; "
            "download it, watermark, upload the result"
        ),
        parameters={
            "image": f"{photo.name} ({photo.stat().st_size} bytes)",
            "runs": runs,
            "staged": "both functions in one warm process (no cold starts counted)",
        },
        runs=raw,
        metrics={
            "pipeline_seconds": summary(pipeline),
            "staged_seconds": summary(staged),
            "pipeline_peak_rss_mb": summary([r["pipeline_peak_rss_mb"] for r in raw], digits=1),
            "staged_peak_rss_mb": summary([r["staged_peak_rss_mb"] for r in raw], digits=1),
            "ssim_pipeline_vs_staged": None if similarity is None else round(similarity, 4),
        },
        ratios={"pipeline_over_staged_seconds": ratio},
        goals=[goal("pipeline/staged wall time", ratio["median"], "<=", RATIO_GOAL)],
        notes=[f"SSIM: {METHOD}"],
    )
