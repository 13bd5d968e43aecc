"""sharp (libvips on Node.js) doing the same image job, installed with npm into the cache."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.baselines import MAX_SIZE, QUALITY, Marks, fit, mark_layers
from benchmarks.job import MARKER
from benchmarks.proc import JobFailed, JobResult

SCRIPT = Path(__file__).with_name("sharp_job.js")


def install(cache: Path, timeout: float = 300.0) -> tuple[Path | None, str]:
    """``node_modules`` holding sharp (installed on first use), or None and the reason."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "node or npm is not installed"
    prefix = cache / "node"
    modules = prefix / "node_modules"
    if (modules / "sharp" / "package.json").exists():
        return modules, "cached"
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        completed = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(prefix),
                "sharp",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"npm install sharp timed out after {timeout:.0f} s"
    if completed.returncode != 0:
        return None, f"npm install sharp failed: {(completed.stderr or completed.stdout)[-500:]}"
    return modules, "installed now"


def overlays(source_size: tuple[int, int], marks: Marks, workdir: Path) -> list[dict[str, Any]]:
    """The marks as PNG files with their places on the resized picture (drawn with Pillow)."""
    layers = []
    for index, (image, (left, top)) in enumerate(mark_layers(marks, fit(source_size))):
        path = workdir / f"sharp-mark-{index}.png"
        image.save(path, "PNG")
        layers.append({"path": str(path), "left": left, "top": top})
    return layers


def run_sharp(
    modules: Path, source: Path, destination: Path, layers: list[dict[str, Any]]
) -> JobResult:
    """One sharp run in its own ``node`` process."""
    spec = {
        "modules": str(modules),
        "source": str(source),
        "destination": str(destination),
        "overlays": layers,
        "max": MAX_SIZE,
        "quality": QUALITY,
    }
    completed = subprocess.run(
        ["node", str(SCRIPT), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(MARKER) and completed.returncode == 0:
            return JobResult(json.loads(line[len(MARKER) :]))
    raise JobFailed(f"sharp job exited with {completed.returncode}: {completed.stderr[-1000:]}")
