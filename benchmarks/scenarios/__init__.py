"""The scenarios, in the order they run (and in order of priority)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.context import Context


@dataclass(frozen=True)
class Scenario:
    """A named benchmark: ``run(ctx)`` returns its JSON entry."""

    name: str
    run: Callable[[Context], dict[str, Any]]


def all_scenarios() -> list[Scenario]:
    """Every scenario, in running order."""
    from benchmarks.scenarios import (
        copy,
        crypto_round_trip,
        fan_out,
        hostile_input,
        image_process,
        live_events,
        memory_flat,
        overlap,
        shaped_copy,
        streaming_vs_staged,
        throughput,
        ttfb,
        workers,
    )

    return [
        Scenario("copy", copy.run),
        Scenario("memory_flat", memory_flat.run),
        Scenario("overlap", overlap.run),
        Scenario("shaped_copy", shaped_copy.run),
        Scenario("streaming_vs_staged", streaming_vs_staged.run),
        Scenario("image_process", image_process.run),
        Scenario("throughput", throughput.run),
        Scenario("ttfb", ttfb.run),
        Scenario("crypto_round_trip", crypto_round_trip.run),
        Scenario("fan_out", fan_out.run),
        Scenario("workers", workers.run),
        Scenario("live_events", live_events.run),
        Scenario("hostile_input", hostile_input.run),
    ]
