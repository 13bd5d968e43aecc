"""Output is stored while input is still read: first part uploaded vs last range read.

The executions measured by ``copy`` (passthrough) and ``memory_flat`` (gzip) in the same
invocation are reused when they ran on an object of this scenario's size; otherwise (e.g.
``--only overlap``) the gzip workflow is run here.
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
    return entry(
        "overlap",
        issue="2",
        description=(
            "from the stage metrics of each execution: when the first output part was "
            "uploaded (write.first_part_uploaded_at) vs when the last input range was read "
            "(read.last_range_read_at), in seconds after the execution started"
        ),
        parameters={
            "object_bytes": size,
            "executions": len(raw),
            "workflows": sorted({r["workflow"] for r in raw}),
            "source": source,
        },
        runs=raw,
        metrics=metrics,
        ratios=ratios,
        goals=[
            goal(
                "share of executions whose first part was uploaded before the last range was read",
                1.0 if every else 0.0,
                ">=",
                1.0,
            )
        ],
    )
