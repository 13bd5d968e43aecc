"""Run a workflow's steps on a local file through the same streaming pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

from bridge import Stage, StageMetrics, run_pipeline
from steps import to_stage
from trigger_service.execution.local import FileSink, FileSource
from trigger_service.records import StepRecord
from trigger_service.workflows.model import Workflow

logger = logging.getLogger(__name__)


async def process_file(
    workflow: Workflow,
    source: Path,
    destination: Path,
    *,
    metrics: list[StageMetrics] | None = None,
) -> dict[str, object]:
    """Process ``source`` into ``destination``; raises ``StageFailed`` (nothing written).

    ``metrics``, when given (empty), is filled with each stage's live metrics (progress bars).
    """
    log = logging.LoggerAdapter(logger, {"workflow": workflow.name, "file": str(source)})
    stages = [Stage("read", FileSource(source).run)]
    stages += [to_stage(step, log) for step in workflow.planned_steps()]
    sink = FileSink(destination)
    if metrics is not None:
        metrics.extend([*(StageMetrics(stage.name) for stage in stages), StageMetrics(sink.name)])
    result = await run_pipeline(stages, sink, metrics=metrics)
    return {
        "workflow": workflow.name,
        "input": {"path": str(source), "size": result.stages[0].bytes_out},
        "output": {"path": str(destination), "size": result.output},
        "steps": [StepRecord.from_metrics(m).model_dump(mode="json") for m in result.stages],
    }
