"""Issue 2: a passthrough copy through the pipeline vs boto3's download-then-upload."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from benchmarks.context import Context, entry
from benchmarks.objects import empty_bucket, new_bucket, put_generated
from benchmarks.proc import run_job
from benchmarks.stats import GiB, MiB, copy_ratios, goal, summary
from storage_adapter import TransferSettings

TIME_RATIO_GOAL = 0.6


def overlap_of(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """When the first output part was stored vs when the last input range was read."""
    by_name = {stage["name"]: stage for stage in stages}
    first_part = by_name.get("write", {}).get("details", {}).get("first_part_uploaded_at")
    last_range = by_name.get("read", {}).get("details", {}).get("last_range_read_at")
    return {
        "first_part_uploaded_at": first_part,
        "last_range_read_at": last_range,
        "first_part_before_last_range": (
            None if first_part is None or last_range is None else first_part < last_range
        ),
    }


def _cpu(data: dict[str, Any]) -> float:
    process = data["process"]
    return round(float(process["cpu_user_seconds"] + process["cpu_system_seconds"]), 3)


def run(ctx: Context) -> dict[str, Any]:
    """Copy one object both ways, interleaved, ``runs`` times."""
    size = ctx.pick(4 * MiB + 123, 128 * MiB, 1 * GiB)
    runs = ctx.pick(1, 3, 3)
    client = ctx.client()
    bucket = new_bucket(client)
    ctx.log(f"copy: uploading a {size / MiB:.0f} MiB object")
    put_generated(client, bucket, "in/object.bin", size)
    base = {"endpoint": ctx.endpoint, "bucket": bucket, "key": "in/object.bin"}
    raw: list[dict[str, Any]] = []
    try:
        for index in range(runs):
            order = ["pipeline", "boto3"] if index % 2 == 0 else ["boto3", "pipeline"]
            row: dict[str, Any] = {"run": index + 1, "order": order}
            for side in order:
                ctx.log(f"copy: run {index + 1}/{runs} {side}")
                if side == "pipeline":
                    result = run_job(
                        "benchmarks.jobs:run_workflow",
                        {**base, "steps": ["passthrough"], "output_key": f"out/p{index}.bin"},
                        server_pid=ctx.server.pid,
                    )
                    row["pipeline_seconds"] = result.seconds
                    row["pipeline_complete_seconds"] = result.get("complete_seconds")
                    row["pipeline_cpu_seconds"] = _cpu(result.data)
                    row["pipeline_server_cpu_seconds"] = result.get("server_cpu_seconds")
                    row["pipeline_peak_rss_mb"] = result.peak_rss_mb
                    row["pipeline_overlap"] = overlap_of(result.get("stages", []))
                    ctx.remember(
                        "timelines",
                        {
                            "workflow": "passthrough",
                            "object_bytes": size,
                            "seconds": result.seconds,
                            "peak_rss_mb": result.peak_rss_mb,
                            "stages": result.get("stages", []),
                        },
                    )
                else:
                    result = run_job(
                        "benchmarks.jobs:transfer_manager_copy",
                        {**base, "output_key": f"out/b{index}.bin", "tmpdir": str(ctx.workdir)},
                        server_pid=ctx.server.pid,
                    )
                    row["boto3_seconds"] = result.seconds
                    row["boto3_complete_seconds"] = result.get("complete_seconds")
                    row["boto3_cpu_seconds"] = _cpu(result.data)
                    row["boto3_server_cpu_seconds"] = result.get("server_cpu_seconds")
                    row["boto3_download_seconds"] = result.get("download_seconds")
                    row["boto3_upload_seconds"] = result.get("upload_seconds")
                    row["boto3_peak_rss_mb"] = result.peak_rss_mb
            raw.append(row)
            for key in (f"out/p{index}.bin", f"out/b{index}.bin"):
                client.delete_object(Bucket=bucket, Key=key)
    finally:
        empty_bucket(client, bucket)
    pipeline = [r["pipeline_seconds"] for r in raw]
    boto = [r["boto3_seconds"] for r in raw]
    time_ratio, without_complete = copy_ratios(raw)
    rss = summary([r["pipeline_peak_rss_mb"] for r in raw], digits=1)
    return entry(
        "copy",
        issue="2",
        description=(
            "passthrough copy through the pipeline (ExecutionEngine: RangedReader → passthrough "
            "→ MultipartWriter, default transfer settings) vs boto3 download_fileobj to a "
            "temporary file then upload_fileobj, same object, same server, interleaved runs"
        ),
        parameters={
            "object_bytes": size,
            "runs": runs,
            "transfer": asdict(TransferSettings()),  # what the job runs with (its defaults)
            "boto3": "default TransferConfig (8 MiB parts, 10 threads)",
        },
        runs=raw,
        metrics={
            "pipeline_seconds": summary(pipeline),
            "boto3_seconds": summary(boto),
            "pipeline_throughput_mib_s": summary([size / MiB / s for s in pipeline], digits=1),
            "boto3_throughput_mib_s": summary([size / MiB / s for s in boto], digits=1),
            "pipeline_peak_rss_mb": rss,
            "boto3_peak_rss_mb": summary([r["boto3_peak_rss_mb"] for r in raw], digits=1),
            "complete_multipart_seconds": {
                "pipeline": summary([r["pipeline_complete_seconds"] for r in raw]),
                "boto3": summary([r["boto3_complete_seconds"] for r in raw]),
            },
            "server_cpu_seconds": {
                "pipeline": summary([r["pipeline_server_cpu_seconds"] for r in raw]),
                "boto3": summary([r["boto3_server_cpu_seconds"] for r in raw]),
            },
        },
        ratios={
            "pipeline_over_boto3_seconds": time_ratio,
            "excluding_complete_multipart_upload": without_complete,
        },
        goals=[goal("pipeline/boto3 wall time", time_ratio["median"], "<=", TIME_RATIO_GOAL)],
        notes=[
            "peak RSS is the whole job process (interpreter and imports included)",
            "server_cpu_seconds: CPU the moto process spent during the job; moto is one "
            "GIL-bound process, so when it is near the wall time the server is the bottleneck "
            "and overlapping download with upload cannot shorten the copy",
            "excluding_complete_multipart_upload (informational) subtracts each side's "
            "CompleteMultipartUpload call, which moto makes O(object size)",
        ],
    )
