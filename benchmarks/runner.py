"""Runs the selected scenarios and assembles the JSON document and the human table."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.context import Context, Mode
from benchmarks.scenarios import Scenario, all_scenarios

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = RESULTS_DIR / "latest.json"


def host_info() -> dict[str, Any]:
    """The machine and library versions the numbers were taken on."""
    import boto3
    import PIL

    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "boto3": boto3.__version__,
        "pillow": PIL.__version__,
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 1024**3, 1)
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        pass
    return info


def select(only: Sequence[str] | None) -> list[Scenario]:
    """The scenarios named in ``only`` (all when None), in running order."""
    scenarios = all_scenarios()
    if not only:
        return scenarios
    known = {s.name for s in scenarios}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    return [s for s in scenarios if s.name in only]


def run_all(
    mode: Mode,
    only: Sequence[str] | None = None,
    *,
    stock_moto: bool = False,
    sizes: Sequence[int] | None = None,
    link: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Run the scenarios and return the JSON document."""
    scenarios = select(only)
    began = time.monotonic()
    started_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    cache = RESULTS_DIR / "cache"
    cache.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bucketstream-bench-"))
    context = Context(
        mode=mode,
        workdir=workdir,
        cache=cache,
        stock_moto=stock_moto,
        sizes=list(sizes or []),
        link=link,
    )
    entries: list[dict[str, Any]] = []
    try:
        for scenario in scenarios:
            context.log(f"scenario {scenario.name}")
            scenario_began = time.monotonic()
            try:
                result = scenario.run(context)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                result = {
                    "name": scenario.name,
                    "error": f"{type(exc).__name__}: {exc}"[:2000],
                    "goal_met": False,
                }
            result["scenario_seconds"] = round(time.monotonic() - scenario_began, 1)
            entries.append(result)
        server = context.server_description()
    finally:
        context.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "benchmark": "bucketstream",
        "schema": 1,
        "mode": mode,
        "started_at": started_at,
        "seconds": round(time.monotonic() - began, 1),
        "host": host_info(),
        "server": server,
        "method": (
            "each measured job runs in its own subprocess; peak RSS = its VmHWM; the moto "
            "server runs in another process; compared sides run interleaved in one invocation; "
            "ratios are per-run (same run) and summarised by median, min, max, IQR"
        ),
        "summary": {
            e["name"]: (
                "skipped"
                if "skipped" in e
                else "error"
                if "error" in e
                else ("met" if e.get("goal_met") else "missed")
            )
            for e in entries
        },
        "scenarios": entries,
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)


def table(document: dict[str, Any]) -> str:
    """A short human-readable table of goals and values."""
    lines = [f"bucketstream benchmarks, mode {document['mode']}, {document['seconds']} s"]
    lines.append(f"{'scenario':<20} {'result':<8} goal → value")
    for scenario in document["scenarios"]:
        name = scenario["name"]
        if "skipped" in scenario:
            lines.append(f"{name:<20} {'skipped':<8} {scenario['skipped']}")
            continue
        if "error" in scenario:
            lines.append(f"{name:<20} {'error':<8} {scenario['error'][:100]}")
            continue
        for index, item in enumerate(scenario.get("goals", [])):
            verdict = {True: "met", False: "MISSED", None: "n/a"}[item["met"]]
            label = name if index == 0 else ""
            lines.append(f"{label:<20} {verdict:<8} {item['goal']} → {_fmt(item['value'])}")
    return "\n".join(lines)


def write(document: dict[str, Any], out: Path | None) -> None:
    """Write the document to ``out`` if given, and to ``results/latest.json`` unless smoke."""
    text = json.dumps(document, indent=2) + "\n"
    if document["mode"] != "smoke":
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        LATEST.write_text(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
