"""Child side of a measured job: ``python -m benchmarks.job SPEC_JSON``.

``SPEC_JSON`` is ``{"target": "package.module:function", "params": {...}}``. The target is a
plain function of the params returning a dict of numbers; this module adds the process's peak
resident set size (``VmHWM`` of ``/proc/self/status``: the high-water mark of this process's
own address space, unlike ``ru_maxrss``, which after ``exec`` may carry over the forking
parent's peak) and prints one JSON line prefixed with :data:`MARKER` on stdout.
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER = "@@bench-result@@ "


def status_kib(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``), or None off Linux."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def peak_rss_bytes() -> int:
    """This process's peak resident set size in bytes."""
    hwm = status_kib("VmHWM")
    if hwm is not None:
        return hwm * 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def current_rss_bytes() -> int:
    """This process's resident set size now, in bytes."""
    rss = status_kib("VmRSS")
    return (rss or 0) * 1024


def cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def resolve(target: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The function named ``module:function``."""
    module_name, _, name = target.partition(":")
    function: Callable[[dict[str, Any]], dict[str, Any]] = getattr(
        importlib.import_module(module_name), name
    )
    return function


def main(argv: list[str] | None = None) -> None:
    """Run the job named in ``argv[0]`` and print its result line."""
    spec = json.loads((argv or sys.argv[1:])[0])
    function = resolve(spec["target"])
    rss_at_start = current_rss_bytes()
    began = time.perf_counter()
    result = function(spec.get("params", {}))
    elapsed = time.perf_counter() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.setdefault("seconds", elapsed)
    result["process"] = {
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_at_start_bytes": rss_at_start,
        "cpu_user_seconds": usage.ru_utime,
        "cpu_system_seconds": usage.ru_stime,
        "job_seconds": elapsed,
    }
    sys.stdout.write(MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
