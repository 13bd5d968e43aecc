"""Output is stored while input is still read: first part uploaded vs last range read.

The executions measured by ``copy`` (passthrough) and ``memory_flat`` (gzip) in the same
invocation are reused when they ran on an object of this scenario's size; otherwise (e.g.
``--only overlap``) the gzip workflow is run here.

Image strips (issue 14): the 24 MP photo through compress (fit 2048) → watermark → baseline
JPEG; from the stage metrics, compress's first strip leaves before decode's ``load()`` ends
(decode hands on bands of rows as they are decoded), watermark's first strip before
compress's last, and encode's first bytes before watermark's last strip.
"""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context, entry
from benchmarks.objects import empty_bucket, new_bucket, put_generated
from benchmarks.proc import run_job
from benchmarks.scenarios.copy import overlap_of
from benchmarks.stats import GiB, MiB, goal, summary


def _own_runs(ctx: Context, size: int, runs: int) -> list[dict[str, Any]]:
    client = ctx.client()
    bucket = new_bucket(client)
    ctx.log(f"overlap: uploading {size // MiB} MiB")
    put_generated(client, bucket, "in/object.bin", size)
    timelines = []
    try:
        for index in range(runs):
            ctx.log(f"overlap: gzip run {index + 1}/{runs}")
            output = f"out/gzip-{index}.bin"
            params = {
                "endpoint": ctx.endpoint,
                "bucket": bucket,
                "key": "in/object.bin",
                "steps": [{"gzip": {"level": 6}}],
                "output_key": output,
            }
            result = run_job("benchmarks.jobs:run_workflow", params)
            client.delete_object(Bucket=bucket, Key=output)
            timelines.append(
                {
                    "workflow": "gzip",
                    "object_bytes": size,
                    "seconds": result.seconds,
                    "stages": result.get("stages", []),
                }
            )
    finally:
        empty_bucket(client, bucket)
    return timelines


def _image_strips(ctx: Context, runs: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    photo, logo = ctx.photo(), ctx.logo()
    rows = []
    for index in range(runs):
        ctx.log(f"overlap: image strips {index + 1}/{runs}")
        result = run_job(
            "benchmarks.image_jobs:strip_timeline", {"source": str(photo), "logo": str(logo)}
        )
        stages = result.get("stages", {})
        decode, compress = stages["decode"], stages["compress"]
        mark, encode = stages["watermark"], stages["encode"]
        rows.append(
            {
                "seconds": round(result.seconds, 3),
                "stages": stages,
                "compress_first_before_decode_end": (
                    compress["first_output_at"] < decode["load_finished_at"]
                ),
                "watermark_first_before_compress_last": (
                    mark["first_output_at"] < compress["last_output_at"]
                ),
                "encode_first_before_watermark_last": (
                    encode["first_output_at"] < mark["last_output_at"]
                ),
            }
        )
    metrics = {
        key: summary([float(r["stages"][stage][field]) for r in rows])
        for key, stage, field in (
            ("decode_first_output_at", "decode", "first_output_at"),
            ("decode_load_finished_at", "decode", "load_finished_at"),
            ("compress_first_output_at", "compress", "first_output_at"),
            ("compress_last_output_at", "compress", "last_output_at"),
            ("watermark_first_output_at", "watermark", "first_output_at"),
            ("watermark_last_output_at", "watermark", "last_output_at"),
            ("encode_first_output_at", "encode", "first_output_at"),
            ("encode_last_output_at", "encode", "last_output_at"),
        )
    }
    metrics["strips_out_of_compress"] = rows[-1]["stages"]["compress"]["frames_out"]
    metrics["bands_out_of_decode"] = rows[-1]["stages"]["decode"]["bands"]
    return metrics, rows


def run(ctx: Context) -> dict[str, Any]:
    """Stage timestamps of byte workflows on an object of 1 GiB (quick: 128 MiB)."""
    size: int = ctx.pick(16 * MiB, 128 * MiB, GiB)
    timelines = [t for t in ctx.shared.get("timelines", []) if t["object_bytes"] == size]
    source = "reused from copy/memory_flat in this invocation"
    if not timelines:
        timelines = _own_runs(ctx, size, ctx.pick(1, 1, 2))
        source = "run by this scenario"
    raw = [
        {
            "workflow": t["workflow"],
            "seconds": round(t["seconds"], 3),
            **overlap_of(t["stages"]),
            "stages": t["stages"],
        }
        for t in timelines
    ]
    metrics: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    for name in sorted({r["workflow"] for r in raw}):
        rows = [r for r in raw if r["workflow"] == name]
        metrics[name] = {
            "seconds": summary([r["seconds"] for r in rows]),
            "first_part_uploaded_at": summary([r["first_part_uploaded_at"] for r in rows]),
            "last_range_read_at": summary([r["last_range_read_at"] for r in rows]),
        }
        ratios[f"{name}_first_part_over_last_range"] = summary(
            [r["first_part_uploaded_at"] / r["last_range_read_at"] for r in rows]
        )
    every = all(r["first_part_before_last_range"] for r in raw)
    image_metrics, image_runs = _image_strips(ctx, ctx.pick(1, 2, 3))
    metrics["image_strips"] = image_metrics
    strips_ok = all(
        r["compress_first_before_decode_end"]
        and r["watermark_first_before_compress_last"]
        and r["encode_first_before_watermark_last"]
        for r in image_runs
    )
    return entry(
        "overlap",
        issue="2, 14",
        description=(
            "from the stage metrics of each execution: when the first output part was "
            "uploaded (write.first_part_uploaded_at) vs when the last input range was read "
            "(read.last_range_read_at), in seconds after the execution started; and for the "
            "24 MP image workflow (strips), when compress, watermark and encode sent their "
            "first and last output, in seconds after the pipeline started"
        ),
        parameters={
            "object_bytes": size,
            "executions": len(raw),
            "workflows": sorted({r["workflow"] for r in raw}),
            "source": source,
        },
        runs=raw + [{"workflow": "image_strips", **r} for r in image_runs],
        metrics=metrics,
        ratios=ratios,
        goals=[
            goal(
                "share of executions whose first part was uploaded before the last range was read",
                1.0 if every else 0.0,
                ">=",
                1.0,
            ),
            goal(
                "share of image runs where compress's first strip left before decode ended, "
                "watermark's first strip before compress's last and encode's first bytes "
                "before watermark's last strip",
                1.0 if strips_ok else 0.0,
                ">=",
                1.0,
            ),
        ],
    )
