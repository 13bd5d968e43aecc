"""Memory independent of object size: peak RSS of byte workflows on growing objects."""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context, entry
from benchmarks.objects import empty_bucket, new_bucket, put_generated
from benchmarks.proc import run_job
from benchmarks.stats import GiB, MiB, goal, summary

PEAK_RSS_GOAL_MB = 150.0
FLATNESS_GOAL = 1.10


def _label(size: int) -> str:
    return f"{size // GiB} GiB" if size >= GiB else f"{size // MiB} MiB"


def run(ctx: Context) -> dict[str, Any]:
    """gzip on every size, and passthrough on the two largest below 4 GiB."""
    sizes: list[int] = ctx.pick(
        [2 * MiB, 8 * MiB], [64 * MiB, 256 * MiB], [256 * MiB, GiB, 4 * GiB]
    )
    flat_pair: tuple[int, int] = ctx.pick(
        (2 * MiB, 8 * MiB), (64 * MiB, 256 * MiB), (256 * MiB, GiB)
    )
    runs: int = ctx.pick(1, 1, 2)
    client = ctx.client()
    bucket = new_bucket(client)
    raw: list[dict[str, Any]] = []
    gzip_rss: dict[int, list[float]] = {}
    passthrough_rss: dict[int, list[float]] = {}
    try:
        for size in sizes:
            key = f"in/{size}.bin"
            ctx.log(f"memory_flat: uploading {_label(size)}")
            put_generated(client, bucket, key, size)
            size_runs = 1 if size >= 4 * GiB else runs
            workflows: list[tuple[str, list[Any]]] = [("gzip", [{"gzip": {"level": 6}}])]
            if size in flat_pair:
                workflows.append(("passthrough", ["passthrough"]))
            for index in range(size_runs):
                for name, steps in workflows:
                    ctx.log(f"memory_flat: {name} {_label(size)} run {index + 1}/{size_runs}")
                    output = f"out/{name}-{size}-{index}.bin"
                    result = run_job(
                        "benchmarks.jobs:run_workflow",
                        {
                            "endpoint": ctx.endpoint,
                            "bucket": bucket,
                            "key": key,
                            "steps": steps,
                            "output_key": output,
                        },
                    )
                    client.delete_object(Bucket=bucket, Key=output)
                    ctx.remember(
                        "timelines",
                        {
                            "workflow": name,
                            "object_bytes": size,
                            "seconds": result.seconds,
                            "stages": result.get("stages", []),
                        },
                    )
                    target = gzip_rss if name == "gzip" else passthrough_rss
                    target.setdefault(size, []).append(result.peak_rss_mb)
                    raw.append(
                        {
                            "workflow": name,
                            "object_bytes": size,
                            "run": index + 1,
                            "seconds": round(result.seconds, 3),
                            "peak_rss_mb": round(result.peak_rss_mb, 1),
                            "rss_at_start_mb": round(
                                result.data["process"]["rss_at_start_bytes"] / 1e6, 1
                            ),
                            "output_bytes": result.get("output_size"),
                        }
                    )
            client.delete_object(Bucket=bucket, Key=key)
    finally:
        empty_bucket(client, bucket)
    small, large = flat_pair
    flat_ratio = max(passthrough_rss[large]) / max(passthrough_rss[small])
    worst_gzip = max(max(values) for values in gzip_rss.values())
    return entry(
        "memory_flat",
        issue="2",
        description=(
            "peak RSS of the job process running the gzip byte workflow (ExecutionEngine, "
            "default transfer settings) on growing objects; and passthrough peak RSS of the "
            "larger object over the smaller one"
        ),
        parameters={
            "object_bytes": sizes,
            "gzip_level": 6,
            "flatness_pair_bytes": list(flat_pair),
            "runs_per_size": runs,
            "data": "1 MiB random block repeated (incompressible: output ≈ input)",
        },
        runs=raw,
        metrics={
            "gzip_peak_rss_mb": {_label(s): summary(v, digits=1) for s, v in gzip_rss.items()},
            "passthrough_peak_rss_mb": {
                _label(s): summary(v, digits=1) for s, v in passthrough_rss.items()
            },
            "gzip_worst_peak_rss_mb": round(worst_gzip, 1),
        },
        ratios={
            f"passthrough_peak_rss_{_label(large)}_over_{_label(small)}".replace(" ", ""): round(
                flat_ratio, 3
            )
        },
        goals=[
            goal(
                "gzip worst peak RSS (MB, all sizes)", round(worst_gzip, 1), "<=", PEAK_RSS_GOAL_MB
            ),
            goal(
                f"passthrough peak RSS {_label(large)}/{_label(small)}",
                round(flat_ratio, 3),
                "<=",
                FLATNESS_GOAL,
            ),
        ],
        notes=[
            "MB = 10^6 bytes; peak RSS is VmHWM of the whole job process, interpreter included",
            "the 4 GiB size runs once (its peak is as steady as the others')",
        ],
    )
