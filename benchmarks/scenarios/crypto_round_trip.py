"""encrypt → decrypt round trip at flat memory, beside a passthrough copy of the same object.

Each workflow runs in its own job process (peak RSS is the whole process's VmHWM): passthrough
of the object (the baseline), encrypt of it, decrypt of the encrypted output. The round trip
must give the original back (size and sampled ranges compared), peak RSS must stay under the
goal at every size and not grow with the object (the larger size over the smaller one).
"""

from __future__ import annotations

import base64
import os
from typing import Any

from benchmarks.context import Context, entry
from benchmarks.objects import empty_bucket, new_bucket, put_generated
from benchmarks.proc import run_job
from benchmarks.stats import GiB, MiB, goal

#: Peak RSS of encrypt or decrypt over that of a passthrough copy of the same object.
OVER_PASSTHROUGH_GOAL = 1.10
FLATNESS_GOAL = 1.10
KEY_VARIABLE = "BUCKETSTREAM_BENCH_KEY"
#: Ranges compared between the original and the round trip's output.
SAMPLES = 8


def _label(size: int) -> str:
    return f"{size // GiB} GiB" if size >= GiB else f"{size // MiB} MiB"


def _same_samples(client: Any, bucket: str, original: str, copy: str, size: int) -> bool:
    step = max(1, size // SAMPLES)
    for start in range(0, size, step):
        window = f"bytes={start}-{min(size, start + MiB) - 1}"
        left = client.get_object(Bucket=bucket, Key=original, Range=window)["Body"].read()
        right = client.get_object(Bucket=bucket, Key=copy, Range=window)["Body"].read()
        if left != right:
            return False
    return True


def run(ctx: Context) -> dict[str, Any]:
    """Passthrough, encrypt and decrypt on a small and a large object."""
    sizes: list[int] = ctx.pick([2 * MiB, 8 * MiB], [64 * MiB, 256 * MiB], [128 * MiB, GiB])
    env = {KEY_VARIABLE: base64.b64encode(os.urandom(32)).decode()}
    workflows: dict[str, list[Any]] = {
        "passthrough": ["passthrough"],
        "encrypt": [{"encrypt": {"key_env": KEY_VARIABLE, "key_id": "bench"}}],
        "decrypt": [{"decrypt": {"key_env": KEY_VARIABLE, "key_id": "bench"}}],
    }
    client = ctx.client()
    bucket = new_bucket(client)
    raw: list[dict[str, Any]] = []
    rss: dict[str, dict[int, float]] = {name: {} for name in workflows}
    seconds: dict[str, dict[int, float]] = {name: {} for name in workflows}
    identical: dict[int, bool] = {}
    try:
        for size in sizes:
            ctx.log(f"crypto_round_trip: uploading {_label(size)}")
            put_generated(client, bucket, f"in/{size}.bin", size)
            inputs = {
                "passthrough": f"in/{size}.bin",
                "encrypt": f"in/{size}.bin",
                "decrypt": f"in/{size}.sealed",
            }
            for name, steps in workflows.items():
                ctx.log(f"crypto_round_trip: {name} {_label(size)}")
                output = f"out/{name}-{size}.bin"
                params = {
                    "endpoint": ctx.endpoint,
                    "bucket": bucket,
                    "key": inputs[name],
                    "steps": steps,
                    "output_key": output,
                }
                result = run_job("benchmarks.jobs:run_workflow", params, env=env)
                rss[name][size] = result.peak_rss_mb
                seconds[name][size] = result.seconds
                raw.append(
                    {
                        "workflow": name,
                        "object_bytes": size,
                        "seconds": round(result.seconds, 3),
                        "mib_per_second": round(size / MiB / result.seconds, 1),
                        "peak_rss_mb": round(result.peak_rss_mb, 1),
                        "output_bytes": result.get("output_size"),
                    }
                )
                if name == "encrypt":
                    client.copy_object(
                        Bucket=bucket,
                        Key=f"in/{size}.sealed",
                        CopySource={"Bucket": bucket, "Key": output},
                        MetadataDirective="REPLACE",  # drops the output marker: an input again
                    )
            decrypted = next(
                r for r in raw if r["workflow"] == "decrypt" and r["object_bytes"] == size
            )
            identical[size] = decrypted["output_bytes"] == size and _same_samples(
                client, bucket, f"in/{size}.bin", f"out/decrypt-{size}.bin", size
            )
            empty_bucket(client, bucket, delete=False)
    finally:
        empty_bucket(client, bucket)
    small, large = sizes
    over_copy = {
        name: round(rss[name][large] / rss["passthrough"][large], 3)
        for name in ("encrypt", "decrypt")
    }
    flat = {name: round(rss[name][large] / rss[name][small], 3) for name in ("encrypt", "decrypt")}
    ratios = {
        f"{name}_over_passthrough_seconds_{_label(large)}".replace(" ", ""): round(
            seconds[name][large] / seconds["passthrough"][large], 3
        )
        for name in ("encrypt", "decrypt")
    }
    ratios |= {
        f"{name}_peak_rss_over_passthrough_{_label(large)}".replace(" ", ""): value
        for name, value in over_copy.items()
    }
    ratios |= {
        f"{name}_peak_rss_{_label(large)}_over_{_label(small)}".replace(" ", ""): value
        for name, value in flat.items()
    }
    return entry(
        "crypto_round_trip",
        issue="15",
        description=(
            "encrypt then decrypt (AES-256-GCM, 1 MiB chunks) of one object through "
            "ExecutionEngine with default transfer settings, beside a passthrough copy of it; "
            "peak RSS of each job process, at two sizes"
        ),
        parameters={
            "object_bytes": sizes,
            "chunk_size": MiB,
            "data": "1 MiB random block repeated",
            "check": f"output size and {SAMPLES} 1 MiB ranges equal to the original",
            "goals": "memory flat in the object size and within 10% of a passthrough copy's",
        },
        runs=raw,
        metrics={
            "peak_rss_mb": {
                name: {_label(s): round(v, 1) for s, v in values.items()}
                for name, values in rss.items()
            },
            "mib_per_second": {
                name: {_label(s): round(s / MiB / v, 1) for s, v in values.items()}
                for name, values in seconds.items()
            },
            "round_trip_identical": {_label(s): ok for s, ok in identical.items()},
        },
        ratios=ratios,
        goals=[
            goal(
                f"encrypt/decrypt peak RSS over passthrough's at {_label(large)} (worst)",
                max(over_copy.values()),
                "<=",
                OVER_PASSTHROUGH_GOAL,
            ),
            goal(
                f"encrypt/decrypt peak RSS {_label(large)}/{_label(small)} (worst)",
                max(flat.values()),
                "<=",
                FLATNESS_GOAL,
            ),
            goal(
                "round trip identical (all sizes, 1 = yes)", int(all(identical.values())), ">=", 1
            ),
        ],
        notes=[
            "MB = 10^6 bytes; peak RSS is VmHWM of the whole job process, interpreter included",
            "the storage server (moto) runs in its own process and is not counted",
        ],
    )
