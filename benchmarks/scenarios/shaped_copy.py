"""Issue 14: a passthrough copy over a shaped link, vs boto3's download then upload.

moto runs on the same two CPUs as the client, so on loopback it is the bottleneck and hides
what overlapping the download with the upload buys. Here both sides talk to moto through
``benchmarks/shaper.py``, a loopback proxy that gives each direction its own bandwidth and
latency, as a store across a network would: boto3 downloads the object to a file and then
uploads it (two transfers in a row); the pipeline reads and writes at the same time.
"""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context, entry
from benchmarks.objects import empty_bucket, new_bucket, put_generated
from benchmarks.proc import run_job
from benchmarks.scenarios.copy import overlap_of
from benchmarks.shaper import ShapedLink
from benchmarks.stats import GiB, MiB, goal, ratios, summary
from trigger_service.cli.embedded import free_port

TIME_RATIO_GOAL = 0.6
#: The link: 10 MB/s each way, 20 ms one-way latency. The link must be slower than the store for
#: the link to be what is measured: on this shared two-core machine moto took uploads at
#: 14-30 MB/s (boto3's upload_seconds), so at 40 or 20 MB/s moto was the bottleneck again.
RATE = 10e6
LATENCY = 0.020


def run(ctx: Context) -> dict[str, Any]:
    """Copy one object both ways through the shaped link, interleaved."""
    size = ctx.pick(8 * MiB, 256 * MiB, 1 * GiB)
    runs = ctx.pick(1, 1, 2)
    client = ctx.client()
    bucket = new_bucket(client)
    ctx.log(f"shaped_copy: uploading a {size / MiB:.0f} MiB object")
    put_generated(client, bucket, "in/object.bin", size)
    link = ShapedLink(ctx.server.port, free_port(), rate=RATE, latency=LATENCY)
    base = {"endpoint": link.endpoint, "bucket": bucket, "key": "in/object.bin"}
    raw: list[dict[str, Any]] = []
    try:
        for index in range(runs):
            order = ["pipeline", "boto3"] if index % 2 == 0 else ["boto3", "pipeline"]
            row: dict[str, Any] = {"run": index + 1, "order": order}
            for side in order:
                ctx.log(f"shaped_copy: run {index + 1}/{runs} {side}")
                if side == "pipeline":
                    params = {
                        **base,
                        "steps": ["passthrough"],
                        "output_key": f"out/p{index}.bin",
                        "payload_signing": "off",
                    }
                    result = run_job("benchmarks.jobs:run_workflow", params)
                    row["pipeline_seconds"] = result.seconds
                    row["pipeline_peak_rss_mb"] = result.peak_rss_mb
                    row["pipeline_overlap"] = overlap_of(result.get("stages", []))
                else:
                    params = {**base, "output_key": f"out/b{index}.bin", "tmpdir": str(ctx.workdir)}
                    result = run_job("benchmarks.jobs:transfer_manager_copy", params)
                    row["boto3_seconds"] = result.seconds
                    row["boto3_download_seconds"] = result.get("download_seconds")
                    row["boto3_upload_seconds"] = result.get("upload_seconds")
                    row["boto3_peak_rss_mb"] = result.peak_rss_mb
            raw.append(row)
            for key in (f"out/p{index}.bin", f"out/b{index}.bin"):
                client.delete_object(Bucket=bucket, Key=key)
    finally:
        link.close()
        empty_bucket(client, bucket)
    pipeline = [r["pipeline_seconds"] for r in raw]
    boto = [r["boto3_seconds"] for r in raw]
    time_ratio = ratios(pipeline, boto)
    return entry(
        "shaped_copy",
        issue="14",
        description=(
            "passthrough copy (ExecutionEngine, payload_signing off) vs boto3 download_fileobj "
            "then upload_fileobj, both through the same shaped loopback link in front of moto"
        ),
        parameters={
            "object_bytes": size,
            "runs": runs,
            "link": link.describe(),
            "boto3": "default TransferConfig (8 MiB parts, 10 threads), default signing",
        },
        runs=raw,
        metrics={
            "pipeline_seconds": summary(pipeline),
            "boto3_seconds": summary(boto),
            "pipeline_throughput_mb_s": summary([size / 1e6 / s for s in pipeline], digits=1),
            "boto3_throughput_mb_s": summary([size / 1e6 / s for s in boto], digits=1),
            "pipeline_peak_rss_mb": summary([r["pipeline_peak_rss_mb"] for r in raw], digits=1),
            "link_floor_seconds": round(size / RATE, 2),
        },
        ratios={"pipeline_over_boto3_seconds": time_ratio},
        goals=[goal("pipeline/boto3 wall time", time_ratio["median"], "<=", TIME_RATIO_GOAL)],
        notes=[
            "link_floor_seconds: the object's size over one direction's rate, the least any "
            "copy can take; boto3's two transfers in a row take at least twice that",
        ],
    )
