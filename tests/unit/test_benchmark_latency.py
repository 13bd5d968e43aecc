"""Milestones of an execution read from its record (benchmarks/latency.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from benchmarks.latency import MILESTONES, median_milestones, milestones, phase_durations

ORIGIN = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(ORIGIN + seconds, UTC).isoformat().replace("+00:00", "Z")


def _record(*, parts: bool) -> dict[str, Any]:
    write_details = {"first_part_uploaded_at": ORIGIN + 0.9} if parts else {}
    return {
        "created_at": _at(0.01),
        "started_at": _at(0.02),
        "finished_at": _at(1.0),
        "steps": [
            {"name": "read", "started_at": _at(0.03), "first_output_at": _at(0.05),
             "finished_at": _at(0.06), "details": {}},
            {"name": "decode", "started_at": _at(0.03), "finished_at": _at(0.3), "details": {}},
            {"name": "compress", "started_at": _at(0.03), "finished_at": _at(0.7), "details": {}},
            {"name": "encode", "started_at": _at(0.03), "finished_at": _at(0.8), "details": {}},
            {"name": "write", "started_at": _at(0.03), "finished_at": _at(0.95),
             "details": write_details},
        ],
    }  # fmt: skip


def test_milestones_are_seconds_after_the_origin() -> None:
    found = milestones(_record(parts=True), ORIGIN)
    assert found["created"] == 0.01
    assert found["input_pinned"] == 0.03
    assert found["first_range_read"] == 0.05
    assert found["decoded"] == 0.3
    assert found["first_part_uploaded"] == 0.9
    assert found["committed"] == 1.0
    assert found["watermarked"] is None  # no such step in this workflow


def test_phases_join_the_milestones_reached() -> None:
    phases = phase_durations(milestones(_record(parts=False), ORIGIN))
    assert phases["compressed→encoded"] == 0.1  # watermark absent: skipped
    assert phases["output_written→committed"] == 0.05
    assert not any("first_part_uploaded" in name for name in phases)
    assert sum(phases.values()) == pytest.approx(1.0 - 0.01)


def test_medians_per_milestone_ignore_runs_that_missed_it() -> None:
    runs: list[dict[str, float | None]] = [
        {"committed": 1.0, "seen": None},
        {"committed": 3.0, "seen": 3.5},
        {"committed": 2.0},
    ]
    medians = median_milestones(runs)
    assert medians["committed"] == 2.0
    assert medians["seen"] == 3.5
    assert medians["decoded"] is None
    assert set(medians) == {"accepted", *MILESTONES}
