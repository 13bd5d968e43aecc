"""Memory independent of object size: peak RSS of byte workflows on growing objects.

The passthrough executions ``copy`` ran in this invocation count for the flatness figure when
their object has one of the pair's sizes (same workflow, same default settings).
"""

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
    """gzip on every size; passthrough on the flatness pair unless ``copy`` measured it.

    ``--sizes`` replaces the mode's sizes; its two smallest are the flatness pair.
    """
    sizes: list[int] = ctx.sizes or ctx.pick(
        [2 * MiB, 8 * MiB], [64 * MiB, 256 * MiB], [256 * MiB, GiB, 4 * GiB]
    )
    flat_pair: tuple[int, int] = ctx.pick(
        (2 * MiB, 8 * MiB), (64 * MiB, 256 * MiB), (256 * MiB, GiB)
    )
    if ctx.sizes:
        if len(set(ctx.sizes)) < 2:
            raise ValueError("memory_flat needs two different --sizes (the flatness pair)")
        small, large = sorted(set(ctx.sizes))[:2]
        flat_pair = (small, large)
    passthrough_rss: dict[int, list[float]] = {}
    for timeline in ctx.shared.get("timelines", []):
        if timeline["workflow"] == "passthrough" and timeline["object_bytes"] in flat_pair:
            passthrough_rss.setdefault(timeline["object_bytes"], []).append(timeline["peak_rss_mb"])
    client = ctx.client()
    bucket = new_bucket(client)
    raw: list[dict[str, Any]] = []
    gzip_rss: dict[int, list[float]] = {}
    try:
        for size in sizes:
            key = f"in/{size}.bin"
            ctx.log(f"memory_flat: uploading {_label(size)}")
            put_generated(client, bucket, key, size)
            size_runs: int = 2 if ctx.mode == "full" and size < GiB else 1
            workflows: list[tuple[str, list[Any]]] = [("gzip", [{"gzip": {"level": 6}}])]
            if size in flat_pair and size not in passthrough_rss:
                workflows.append(("passthrough", ["passthrough"]))
            for index in range(size_runs):
                for name, steps in workflows:
                    ctx.log(f"memory_flat: {name} {_label(size)} run {index + 1}/{size_runs}")
                    output = f"out/{name}-{size}-{index}.bin"
                    params = {
                        "endpoint": ctx.endpoint,
                        "bucket": bucket,
                        "key": key,
                        "steps": steps,
                        "output_key": output,
                    }
                    result = run_job("benchmarks.jobs:run_workflow", params)
                    client.delete_object(Bucket=bucket, Key=output)
                    ctx.remember(
                        "timelines",
                        {
                            "workflow": name,
                            "object_bytes": size,
                            "seconds": result.seconds,
                            "peak_rss_mb": result.peak_rss_mb,
                            "stages": result.get("stages", []),
                        },
                    )
                    target = gzip_rss if name == "gzip" else passthrough_rss
                    target.setdefault(size, []).append(result.peak_rss_mb)
                    start_mb = result.data["process"]["rss_at_start_bytes"] / 1e6
                    raw.append(
                        {
                            "workflow": name,
                            "object_bytes": size,
                            "run": index + 1,
                            "seconds": round(result.seconds, 3),
                            "peak_rss_mb": round(result.peak_rss_mb, 1),
                            "rss_at_start_mb": round(start_mb, 1),
                            "output_bytes": result.get("output_size"),
                        }
                    )
            client.delete_object(Bucket=bucket, Key=key)
    finally:
        empty_bucket(client, bucket)
    small, large = flat_pair
    flat_ratio = max(passthrough_rss[large]) / max(passthrough_rss[small])
    worst_gzip = max(max(values) for values in gzip_rss.values())
    flat_name = f"passthrough_peak_rss_{_label(large)}_over_{_label(small)}".replace(" ", "")
    return entry(
        "memory_flat",
        issue="2",
        description=(
            "peak RSS of the job process running the gzip byte workflow (ExecutionEngine, "
            "default transfer settings) on growing objects; and the passthrough workflow's peak "
            "RSS on the larger object of a pair over the smaller one's (worst run of each)"
        ),
        parameters={
            "object_bytes": sizes,
            "gzip_level": 6,
            "flatness_pair_bytes": list(flat_pair),
            "runs_per_size": "2 below 1 GiB in full mode, else 1",
            "data": "1 MiB random block repeated (incompressible: output ≈ input)",
        },
        runs=raw,
        metrics={
            "gzip_peak_rss_mb": {_label(s): summary(v, digits=1) for s, v in gzip_rss.items()},
            "passthrough_peak_rss_mb": {
                _label(s): summary(v, digits=1) for s, v in sorted(passthrough_rss.items())
            },
            "gzip_worst_peak_rss_mb": round(worst_gzip, 1),
        },
        ratios={flat_name: round(flat_ratio, 3)},
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
            "passthrough runs at a size copy measured in this invocation are copy's runs",
        ],
    )
