"""Benchmark plumbing: the shaped link's booking, size and link options, sized scenarios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.shaper import Link
from benchmarks.stats import MB, MiB, parse_link, parse_sizes

ROOT = Path(__file__).resolve().parents[2]


def test_the_wire_is_booked_back_to_back_at_the_rate() -> None:
    link = Link(rate=1000.0, latency=0.5, horizon=0.1)
    wait, arrival = link.book(100, now=10.0)  # 0.1 s on the wire, within the horizon
    assert wait == 0.0 and arrival == pytest.approx(10.6)
    wait, arrival = link.book(100, now=10.0)  # after the first: ends 10.2, 0.1 s past horizon
    assert wait == pytest.approx(0.1) and arrival == pytest.approx(10.7)


def test_a_late_sender_finds_its_bytes_already_booked() -> None:
    """Booked before its wakeup, the next read leaves no gap: the wire stays busy."""
    link = Link(rate=1000.0, latency=0.0, horizon=0.05)
    link.book(50, now=0.0)  # wire busy until 0.05
    _, arrival = link.book(50, now=0.04)  # woken 40 ms in: still queued behind the first
    assert arrival == pytest.approx(0.10)
    _, arrival = link.book(50, now=1.0)  # idle link: starts now
    assert arrival == pytest.approx(1.05)


def test_sizes_and_links_from_the_command_line() -> None:
    assert parse_sizes("256MiB, 1GiB,4096") == [256 * MiB, 1024 * MiB, 4096]
    assert parse_link("40,20") == (40 * MB, 0.02)
    for bad in ("", "1TB", "0MiB", "MiB"):
        with pytest.raises(ValueError, match="not a size"):
            parse_sizes(bad)
    for bad in ("fast", "0,20", "40,-1"):
        with pytest.raises(ValueError, match="not a link"):
            parse_link(bad)


@pytest.mark.soak  # seven measured jobs in subprocesses: most of a minute on a busy machine
def test_sized_scenarios_take_the_sizes_and_the_link(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "benchmarks", "--mode", "smoke", "--only",
               "memory_flat,shaped_copy", "--sizes", "1MiB,3MiB", "--link", "200,1",
               "--out", str(out)]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    memory, shaped = json.loads(out.read_text())["scenarios"]
    assert "error" not in memory and "error" not in shaped, (memory, shaped)
    assert memory["parameters"]["object_bytes"] == [MiB, 3 * MiB]
    assert memory["parameters"]["flatness_pair_bytes"] == [MiB, 3 * MiB]
    assert shaped["parameters"]["object_bytes"] == MiB
    assert shaped["parameters"]["link"]["rate_mb_per_second_each_direction"] == 200.0
    (run,) = shaped["runs"]
    assert run["pipeline_complete_seconds"] >= 0 and run["boto3_complete_seconds"] >= 0
    assert len(run["load_average"]) == 3
    assert shaped["metrics"]["store_alone"]["boto3_upload_parts_mb_s"] > 0
