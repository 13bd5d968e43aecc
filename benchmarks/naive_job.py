"""The naive Pillow script as a measured job, in a module that imports only Pillow.

Kept apart from :mod:`benchmarks.image_jobs` so that its process's peak RSS holds no boto3,
anyio or pipeline modules: only what the script itself needs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.baselines import Marks, naive_process
from benchmarks.job import cpu_seconds


def naive_file(params: dict[str, Any]) -> dict[str, Any]:
    """Open, load, exif_transpose, resize, paste, save, on a local file."""
    source, destination = Path(params["source"]), Path(params["destination"])
    logo = params.get("logo")
    cpu_before, began = cpu_seconds(), time.perf_counter()
    naive_process(source, destination, Marks(logo=Path(logo) if logo else None))
    return {
        "seconds": time.perf_counter() - began,
        "cpu_seconds": cpu_seconds() - cpu_before,
        "output_bytes": destination.stat().st_size,
    }
