"""Issues 3, 6 #2 and 14: the image workflow on a local file vs a naive Pillow script and sharp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from benchmarks.baselines import Marks
from benchmarks.context import Context, entry
from benchmarks.proc import JobResult, run_job
from benchmarks.sharp import install, overlays, run_sharp
from benchmarks.ssim import METHOD, ssim
from benchmarks.stats import goal, ratios, summary

NAIVE_WALL_GOAL = 0.45
NAIVE_RSS_GOAL = 0.4
SSIM_GOAL = 0.98
#: Issue 14: wall ≤ 0.5× sharp's, peak RSS ≤ 110 MB (sharp's is ~138 MB here).
SHARP_WALL_GOAL = 0.5
PEAK_RSS_GOAL_MB = 110.0
#: Network-like feed of the decode-overlap figure: 64 KiB every 4 ms (16 MiB/s, ~134 Mbit/s).
PACE_CHUNK = 64 * 1024
PACE_INTERVAL = 0.004


def _side(name: str, result: JobResult) -> dict[str, Any]:
    row = {f"{name}_seconds": result.seconds, f"{name}_peak_rss_mb": result.peak_rss_mb}
    cpu = result.get("cpu_seconds")
    if cpu is not None:  # CPU time of the timed region, every thread of the process
        row[f"{name}_cpu_seconds"] = round(float(cpu), 4)
    start = result.data["process"].get("rss_at_start_bytes")
    if start:  # after the job's imports, before its work (Python sides only)
        row[f"{name}_rss_at_start_mb"] = start / 1e6
    return row


def run(ctx: Context) -> dict[str, Any]:
    """Pipeline, naive script and sharp on the same file, interleaved; then the paced feed."""
    photo, logo = ctx.photo(), ctx.logo()
    marks = Marks(logo=logo)
    runs: int = ctx.pick(1, 2, 4)
    work = ctx.workdir / "image_process"
    work.mkdir(exist_ok=True)
    notes = [
        f"SSIM: {METHOD}",
        "timed regions: the pipeline's excludes Python start-up, imports and the workflow load "
        "(logo read once); sharp's excludes node start-up and require('sharp') (libvips "
        "initialisation); *_cpu_seconds: user + system CPU of the timed region, all threads",
    ]
    modules, why = (None, "not run in smoke mode") if ctx.mode == "smoke" else install(ctx.cache)
    if modules is None:
        notes.append(f"sharp skipped: {why}")
    else:
        notes.append(f"sharp: {why}; libvips default concurrency (1 thread on glibc)")
        with Image.open(photo) as image:
            layers = overlays(image.size, marks, work)
    outputs = {side: work / f"{side}.jpg" for side in ("pipeline", "naive", "sharp")}
    common = {"source": str(photo), "logo": str(logo)}
    raw: list[dict[str, Any]] = []
    for index in range(runs):
        sides = ["pipeline", "naive"] + (["sharp"] if modules is not None else [])
        order = sides[index % len(sides) :] + sides[: index % len(sides)]
        row: dict[str, Any] = {"run": index + 1, "order": order}
        for side in order:
            ctx.log(f"image_process: run {index + 1}/{runs} {side}")
            if side == "sharp":
                assert modules is not None
                result = run_sharp(modules, photo, outputs["sharp"], layers)
            else:
                target = {
                    "pipeline": "benchmarks.image_jobs:pipeline_file",
                    "naive": "benchmarks.naive_job:naive_file",
                }[side]
                result = run_job(target, {**common, "destination": str(outputs[side])})
            row.update(_side(side, result))
            if side == "pipeline":
                row["pipeline_decode_draft_scale"] = result.get("decode", {}).get(
                    "decode_draft_scale"
                )
        raw.append(row)
    similarity = {}
    with Image.open(outputs["pipeline"]) as ours, Image.open(outputs["naive"]) as naive:
        similarity["pipeline_vs_naive"] = round(ssim(ours, naive), 4)
        if modules is not None:
            with Image.open(outputs["sharp"]) as theirs:
                similarity["sharp_vs_naive"] = round(ssim(theirs, naive), 4)
    paced = _paced(ctx, photo, logo, ctx.pick(1, 1, 3))
    sides_run = ["pipeline", "naive"] + (["sharp"] if modules is not None else [])
    metrics: dict[str, Any] = {}
    for side in sides_run:
        metrics[f"{side}_seconds"] = summary([r[f"{side}_seconds"] for r in raw])
        metrics[f"{side}_peak_rss_mb"] = summary([r[f"{side}_peak_rss_mb"] for r in raw], digits=1)
        cpu = [r[f"{side}_cpu_seconds"] for r in raw if f"{side}_cpu_seconds" in r]
        if cpu:
            metrics[f"{side}_cpu_seconds"] = summary(cpu)
    metrics["ssim"] = similarity
    metrics["decode_overlap"] = paced
    ratio_values = {
        "pipeline_over_naive_seconds": ratios(
            [r["pipeline_seconds"] for r in raw], [r["naive_seconds"] for r in raw]
        ),
        "pipeline_over_naive_peak_rss": ratios(
            [r["pipeline_peak_rss_mb"] for r in raw], [r["naive_peak_rss_mb"] for r in raw]
        ),
    }
    goals = [
        goal("pipeline/naive wall", ratio_values["pipeline_over_naive_seconds"]["median"], "<=",
             NAIVE_WALL_GOAL),
        goal("pipeline/naive peak RSS", ratio_values["pipeline_over_naive_peak_rss"]["median"],
             "<=", NAIVE_RSS_GOAL),
        goal("SSIM pipeline vs naive", similarity["pipeline_vs_naive"], ">=", SSIM_GOAL),
        goal("pipeline peak RSS", metrics["pipeline_peak_rss_mb"]["median"], "<=",
             PEAK_RSS_GOAL_MB, "MB"),
    ]  # fmt: skip
    if modules is not None:
        ratio_values["pipeline_over_sharp_seconds"] = ratios(
            [r["pipeline_seconds"] for r in raw], [r["sharp_seconds"] for r in raw]
        )
        ratio_values["pipeline_over_sharp_peak_rss"] = ratios(
            [r["pipeline_peak_rss_mb"] for r in raw], [r["sharp_peak_rss_mb"] for r in raw]
        )
        if all("pipeline_cpu_seconds" in r and "sharp_cpu_seconds" in r for r in raw):
            ratio_values["pipeline_over_sharp_cpu"] = ratios(
                [r["pipeline_cpu_seconds"] for r in raw], [r["sharp_cpu_seconds"] for r in raw]
            )
        goals += [
            goal("pipeline/sharp wall", ratio_values["pipeline_over_sharp_seconds"]["median"],
                 "<=", SHARP_WALL_GOAL),
        ]  # fmt: skip
    with Image.open(photo) as image:
        size = image.size
    return entry(
        "image_process",
        issue="3, 6 #2, 14",
        description=(
            "24 MP JPEG → fit 2048, text + logo watermark, JPEG q80 on a local file: the "
            "pipeline (process_file: file → decode → compress → watermark → encode → file) vs a "
            "naive Pillow script (open, load, exif_transpose, resize, paste, save) and sharp; "
            "plus how much of decode was done when the last input byte arrived, fed at a "
            "network-like pace"
        ),
        parameters={
            "image": f"{photo.name} ({size[0]}×{size[1]}, {photo.stat().st_size} bytes)",
            "runs": runs,
            "paced_feed": f"{PACE_CHUNK} bytes every {PACE_INTERVAL * 1000:.0f} ms",
        },
        runs=raw,
        metrics=metrics,
        ratios=ratio_values,
        goals=goals,
        notes=notes,
    )


def _paced(ctx: Context, photo: Path, logo: Path, runs: int) -> dict[str, Any]:
    rows = []
    for index in range(runs):
        ctx.log(f"image_process: paced decode {index + 1}/{runs}")
        params = {
            "source": str(photo),
            "logo": str(logo),
            "chunk_bytes": PACE_CHUNK,
            "interval_seconds": PACE_INTERVAL,
        }
        rows.append(run_job("benchmarks.image_jobs:paced_decode", params).data)
    keys = (
        "decode_done_when_input_ended",
        "input_ended_at",
        "decode_load_started_at",
        "decode_load_finished_at",
        "seconds",
    )
    return {
        "description": (
            "decode_done_when_input_ended: share of decode's load() time already spent when the "
            "last input chunk arrived (steps.image.decode_overlap); times in seconds after start"
        ),
        **{key: summary([float(r[key]) for r in rows]) for key in keys},
        "decode_draft_scale": rows[-1].get("decode_draft_scale"),
        "decode_peak_buffered_bytes": rows[-1].get("decode_peak_buffered_bytes"),
    }
