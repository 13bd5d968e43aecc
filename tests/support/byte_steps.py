"""Running one byte step over chosen chunks, in memory, through the real pipeline runner."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge import StageContext, StageMetrics, run_pipeline
from bridge.pipeline import Stage
from steps import StepDefinition, configure_step, prepare_step, to_stage
from tests.support.fakes import MemorySink

LOG = logging.LoggerAdapter(logging.getLogger("test"), {})


@dataclass
class StepRun:
    """What a run produced: the output (committed only), frames, the step's metrics."""

    output: bytes
    frames: list[bytes]
    metrics: StageMetrics


async def run_byte_step(
    definition: StepDefinition,
    chunks: Sequence[bytes],
    params: Mapping[str, Any] | None = None,
    *,
    sink: MemorySink | None = None,
) -> StepRun:
    """Feed ``chunks`` to the step and return what it wrote; raises ``StageFailed``."""
    step = await prepare_step(configure_step(definition, params or {}), _NoLoader())

    async def source(ctx: StageContext) -> None:
        for chunk in chunks:
            await ctx.write(chunk)

    sink = sink or MemorySink(name="write")
    metrics = [StageMetrics("read"), StageMetrics(step.label), StageMetrics(sink.name)]
    result = await run_pipeline([Stage("read", source), to_stage(step, LOG)], sink, metrics=metrics)
    return StepRun(result.output, sink.frames, metrics[1])


def cuts(data: bytes, *positions: int) -> list[bytes]:
    """``data`` cut at ``positions`` (sorted, within bounds) into chunks."""
    bounds = [0, *positions, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


class _NoLoader:
    async def read(self, url: str, *, max_bytes: int) -> bytes:
        raise AssertionError(f"byte steps load no resources ({url})")


def cut_positions(
    length: int, boundaries: Sequence[int], *, window: int = 3, stride: int = 97
) -> list[int]:
    """Cut positions worth trying: every one within ``window`` of a boundary, a stride elsewhere.

    Boundaries are where a step's framing changes (a header's end, a block's end); each run is a
    whole pipeline, so trying every byte of a multi-kilobyte object would take minutes.
    """
    near = {p + d for p in (0, *boundaries, length) for d in range(-window, window + 1)}
    spread = set(range(0, length + 1, stride))
    return sorted(p for p in near | spread if 0 <= p <= length)
