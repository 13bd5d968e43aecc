"""A progress bar on stderr for ``run`` and ``process``: bytes read of total, bytes written,
current step; drawn only when stderr is a terminal and ``--quiet`` is not given.

It is fed with step records (the engine's progress callback of ``run``) or with the live
:class:`~bridge.StageMetrics` of a pipeline (``process``), and removed when the run ends, so
the JSON on stdout stays the only output.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TextIO

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from trigger_service.records import StepRecord

#: ``--quiet`` of ``run`` and ``process``.
quiet_option = click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar on stderr (it is drawn on terminals)."
)


def progress_wanted(quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether to draw: not quiet, and stderr is a terminal."""
    stream = stream or sys.stderr
    return not quiet and stream.isatty()


def summarize(steps: Sequence[StepRecord]) -> tuple[int, int, str | None]:
    """Bytes read (first stage's output), bytes written (last stage's input), current step."""
    if not steps:
        return 0, 0, None
    current = None
    for step in steps:
        if step.bytes_in or step.bytes_out or step.status == "running":
            current = step.name
        if step.status not in {"succeeded", "pending"}:
            current = step.name
            break
    return steps[0].bytes_out, steps[-1].bytes_in, current


class ProgressBar:
    """A context manager drawing one transient bar; does nothing when not ``enabled``."""

    def __init__(self, description: str, *, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._description = description
        self._console = console

    def __enter__(self) -> ProgressBar:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("written {task.fields[written]}"),
                TextColumn("[bold]{task.fields[step]}"),
                TimeElapsedColumn(),
                console=self._console or Console(stderr=True),
                transient=True,
                refresh_per_second=8,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                self._description, total=None, written="0 B", step="starting"
            )
        return self

    def update(self, total: int | None, read: int, written: int, step: str | None) -> None:
        """Show ``read`` of ``total`` bytes, ``written`` bytes and the current step."""
        if self._progress is None or self._task is None:
            return
        self._progress.update(
            self._task,
            total=total,
            completed=read,
            written=_size(written),
            step=step or "",
        )

    def update_steps(self, total: int | None, steps: Sequence[StepRecord]) -> None:
        """:meth:`update` from step records."""
        self.update(total, *summarize(steps))

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


def _size(value: int) -> str:
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{value} B"
