"""The benchmark runner end to end on tiny sizes: one well-formed JSON document."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_KEYS = {"name", "issue", "parameters", "runs", "metrics", "ratios", "goals", "goal",
                 "goal_met"}  # fmt: skip


def test_smoke_run_prints_one_json_document(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--mode",
            "smoke",
            "--only",
            "copy",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    document = json.loads(completed.stdout)
    assert json.loads(out.read_text()) == document
    assert document["mode"] == "smoke"
    assert {"host", "server", "summary", "scenarios", "seconds"} <= document.keys()
    assert "ranged GET" in document["server"]["change"]
    (scenario,) = document["scenarios"]
    assert "error" not in scenario, scenario.get("error")
    assert scenario.keys() >= SCENARIO_KEYS
    assert scenario["name"] == "copy"
    assert isinstance(scenario["goal_met"], bool)
    assert document["summary"] == {"copy": "met" if scenario["goal_met"] else "missed"}
    time_ratio = scenario["ratios"]["pipeline_over_boto3_seconds"]
    assert {"median", "min", "max", "iqr", "values"} <= time_ratio.keys()
    assert time_ratio["n"] == len(scenario["runs"]) == 1
    (run,) = scenario["runs"]
    assert run["pipeline_seconds"] > 0 and run["boto3_seconds"] > 0
    assert run["pipeline_peak_rss_mb"] > 10
    assert scenario["goals"][0]["op"] == "<="
    assert "copy" in completed.stderr  # the human table
