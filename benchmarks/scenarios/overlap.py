"""Output is stored while input is still read: first part uploaded vs last range read."""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context, entry
from benchmarks.objects import empty_bucket, new_bucket, put_generated
from benchmarks.proc import run_job
from benchmarks.scenarios.copy import overlap_of
from benchmarks.stats import GiB, MiB, goal, summary

#: The passthrough workflow's overlap is also in every run of the ``copy`` scenario.
WORKFLOWS: tuple[tuple[str, list[Any]], ...] = (("gzip", [{"gzip": {"level": 6}}]),)


def run(ctx: Context) -> dict[str, Any]:
    """Stage timestamps of the gzip workflow on one object."""
    size: int = ctx.pick(16 * MiB, 128 * MiB, GiB)
    runs: int = ctx.pick(1, 1, 2)
    client = ctx.client()
    bucket = new_bucket(client)
    ctx.log(f"overlap: uploading {size // MiB} MiB")
    put_generated(client, bucket, "in/object.bin", size)
    raw: list[dict[str, Any]] = []
    try:
        for index in range(runs):
            for name, steps in (
                ("gzip", [{"gzip": {"level": 6}}]),
                ("passthrough", ["passthrough"]),
            ):
                ctx.log(f"overlap: {name} run {index + 1}/{runs}")
                output = f"out/{name}-{index}.bin"
                result = run_job(
                    "benchmarks.jobs:run_workflow",
                    {
                        "endpoint": ctx.endpoint,
                        "bucket": bucket,
                        "key": "in/object.bin",
                        "steps": steps,
                        "output_key": output,
                    },
                )
                client.delete_object(Bucket=bucket, Key=output)
                stages = result.get("stages", [])
                raw.append(
                    {
                        "workflow": name,
                        "run": index + 1,
                        "seconds": round(result.seconds, 3),
                        **overlap_of(stages),
                        "stages": stages,
                    }
                )
    finally:
        empty_bucket(client, bucket)
    metrics: dict[str, Any] = {}
    for name, _ in WORKFLOWS:
        rows = [r for r in raw if r["workflow"] == name]
        metrics[name] = {
            "seconds": summary([r["seconds"] for r in rows]),
            "first_part_uploaded_at": summary([r["first_part_uploaded_at"] for r in rows]),
            "last_range_read_at": summary([r["last_range_read_at"] for r in rows]),
            "first_part_fraction_of_read": summary(
                [r["first_part_uploaded_at"] / r["last_range_read_at"] for r in rows]
            ),
        }
    every = all(r["first_part_before_last_range"] for r in raw)
    return entry(
        "overlap",
        issue="2",
        description=(
            "from the stage metrics of each execution: when the first output part was "
            "uploaded (write.first_part_uploaded_at) vs when the last input range was read "
            "(read.last_range_read_at), in seconds after the execution started"
        ),
        parameters={"object_bytes": size, "runs": runs, "workflows": [n for n, _ in WORKFLOWS]},
        runs=raw,
        metrics=metrics,
        ratios={
            f"{name}_first_part_over_last_range": metrics[name]["first_part_fraction_of_read"]
            for name, _ in WORKFLOWS
        },
        goals=[
            goal(
                "runs where first part uploaded < last range read (fraction)",
                1.0 if every else 0.0,
                ">=",
                1.0,
            )
        ],
    )
