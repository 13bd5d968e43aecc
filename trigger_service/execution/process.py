"""Run a workflow's steps on a local file through the same streaming pipeline.

A fan-out workflow writes one file per output: beside ``destination``, named by the output
(``out.jpg`` → ``out.thumb.webp``, ``out.page.jpg``…), or into ``destination`` when it is a
directory (``<input stem>.<output>.<ext>``). All or nothing, as in a bucket: the files are
renamed into place only when every output succeeded, and removed again if one rename fails.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bridge import Branch, FanOut, Stage, StageMetrics, run_pipeline
from steps import share_frame, to_stage
from trigger_service.execution.allocator import tune_allocator
from trigger_service.execution.local import FileSink, FileSource
from trigger_service.records import StepRecord
from trigger_service.workflows.branches import Branch as OutputBranch
from trigger_service.workflows.keys import FORMAT_EXTENSIONS
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
    The allocator is tuned as for bucket executions (see :mod:`.allocator`): freed picture
    windows and strips go back to the system instead of staying resident.
    """
    tune_allocator()
    log = logging.LoggerAdapter(logger, {"workflow": workflow.name, "file": str(source)})
    stages = [Stage("read", FileSource(source).run)]
    stages += [to_stage(step, log) for step in workflow.planned_steps()]
    if workflow.fan_out:
        return await _fan_out(workflow, stages, source, destination, log)
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


def output_path(output: OutputBranch, source: Path, destination: Path) -> Path:
    """Where ``process`` writes ``output`` of a fan-out workflow."""
    fmt = output.output_format
    if destination.is_dir():
        folder, stem, suffix = destination, source.stem, source.suffix
    else:
        folder, stem, suffix = destination.parent, destination.stem, destination.suffix
    extension = f".{FORMAT_EXTENSIONS.get(fmt, fmt)}" if fmt else suffix
    return folder / f"{stem}.{output.name}{extension}"


async def _fan_out(
    workflow: Workflow,
    stages: list[Stage],
    source: Path,
    destination: Path,
    log: logging.LoggerAdapter[logging.Logger],
) -> dict[str, object]:
    _, planned = workflow.planned_fan_out()
    paths = {o.name: output_path(o, source, destination) for o in workflow.branches}
    branches = [
        Branch(o.name, [to_stage(step, log) for step in steps], FileSink(paths[o.name]))
        for o, steps in zip(workflow.branches, planned, strict=True)
    ]

    async def undo(name: str, _size: int) -> None:
        paths[name].unlink(missing_ok=True)

    tee = FanOut(branches, share=share_frame if len(branches) > 1 else None, undo=undo)
    result = await run_pipeline(stages, tee)
    metrics = [*result.stages, *tee.all_metrics()]
    return {
        "workflow": workflow.name,
        "input": {"path": str(source), "size": result.stages[0].bytes_out},
        "outputs": [
            {"name": name, "path": str(paths[name]), "size": size}
            for name, size in result.output.items()
        ],
        "steps": [StepRecord.from_metrics(m).model_dump(mode="json") for m in metrics],
    }
