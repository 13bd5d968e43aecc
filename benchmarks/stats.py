"""Summaries of repeated measurements: median and spread, and ratios measured side by side."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from typing import Any

MB = 1_000_000
MiB = 1024 * 1024
GiB = 1024 * MiB


def summary(values: Sequence[float], *, digits: int = 4) -> dict[str, Any]:
    """Median, min, max and interquartile range of ``values`` (each run kept as given)."""
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "iqr": None, "values": []}
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "iqr": round(q3 - q1, digits),
        "values": [round(v, digits) for v in values],
    }


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> dict[str, Any]:
    """Per-run ratios ``a[i] / b[i]`` (each pair measured in the same run), summarised."""
    pairs = [a / b for a, b in zip(numerators, denominators, strict=True) if b > 0]
    return summary(pairs)


def copy_ratios(raw: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pipeline over boto3 wall time in each copy run, and the same with each side's
    CompleteMultipartUpload taken out (``*_seconds`` and ``*_complete_seconds`` of a run)."""
    whole = ratios([r["pipeline_seconds"] for r in raw], [r["boto3_seconds"] for r in raw])
    before_complete = ratios(
        [r["pipeline_seconds"] - r["pipeline_complete_seconds"] for r in raw],
        [r["boto3_seconds"] - r["boto3_complete_seconds"] for r in raw],
    )
    return whole, before_complete


def goal(
    metric: str, value: float | None, op: str, target: float, unit: str = ""
) -> dict[str, Any]:
    """One goal and whether ``value`` meets it (``op`` is ``<=`` or ``>=``)."""
    if op not in ("<=", ">=", "<"):
        raise ValueError(f"unknown comparison {op!r}")
    met: bool | None
    if value is None:
        met = None
    elif op == "<=":
        met = value <= target
    elif op == "<":
        met = value < target
    else:
        met = value >= target
    text = f"{metric} {op} {target}{(' ' + unit) if unit else ''}"
    return {"metric": metric, "op": op, "target": target, "value": value, "met": met, "goal": text}


def all_met(goals: Sequence[dict[str, Any]]) -> bool:
    """True when every goal was evaluated and met."""
    return bool(goals) and all(g["met"] is True for g in goals)


_UNITS = {"": 1, "B": 1, "KIB": 1024, "MIB": MiB, "GIB": GiB}


def parse_sizes(text: str) -> list[int]:
    """``"256MiB,1GiB"`` as bytes (units B, KiB, MiB, GiB; none means bytes)."""
    sizes = []
    for item in text.split(","):
        number = item.strip().rstrip("BbIiKkMmGg")
        unit = item.strip()[len(number) :].upper()
        if not number.isdigit() or unit not in _UNITS or int(number) == 0:
            raise ValueError(f"not a size: {item.strip()!r} (e.g. 256MiB, 1GiB)")
        sizes.append(int(number) * _UNITS[unit])
    return sizes


def parse_link(text: str) -> tuple[float, float]:
    """``"40,20"`` (MB/s each way, one-way latency in ms) as (bytes/s, seconds)."""
    rate, _, latency = text.partition(",")
    try:
        values = float(rate) * MB, float(latency or 0) / 1000
    except ValueError:
        raise ValueError(f"not a link: {text!r} (MB/s,ms e.g. 40,20)") from None
    if values[0] <= 0 or values[1] < 0:
        raise ValueError(f"not a link: {text!r} (a positive rate, a latency of 0 or more)")
    return values


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages now (the machine is shared: say how busy it was)."""
    return [round(value, 2) for value in os.getloadavg()]
