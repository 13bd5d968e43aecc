"""Fan-out: one stream of frames feeds several branches, each ending in a sink of its own.

:class:`FanOut` is a pipeline sink. Its ``consume`` runs every branch (its stages, then its
sink's ``consume``) in one task group and sends each incoming frame to every branch through
one bounded channel per branch, one branch after the other: a slow branch keeps the tee
waiting (backpressure), so frames are never piled up for it and memory stays bounded by
``branches × (stages + 1) × capacity`` frames. A frame is sent as one object to every
branch (``share`` may mark it read-only first), never copied per branch.

All or nothing: ``commit`` is called by the runner only after every branch returned cleanly;
it commits every branch's sink at once. If one commit fails after others succeeded, the
committed outputs are handed to ``undo`` (e.g. deleted) and the others aborted, so no branch
stays visible without the rest. ``abort`` aborts every uncommitted sink and undoes the
committed ones. A failure is reported as :class:`~bridge.errors.StageFailed` naming the branch
stage as ``branch.stage`` (e.g. ``thumb.compress``).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskGroup

from bridge.channel import Channel
from bridge.errors import StageFailed
from bridge.frames import frame_size
from bridge.metrics import StageMetrics
from bridge.pipeline import (
    DEFAULT_CAPACITY,
    FailureLog,
    Sink,
    Stage,
    StageContext,
    StageFunction,
    run_stage,
)

logger = logging.getLogger(__name__)

R = TypeVar("R")

#: Called with a branch name and what its sink's commit returned, to take that output back.
UndoCommit = Callable[[str, R], Awaitable[None]]


@dataclass(frozen=True)
class Branch(Generic[R]):
    """One branch of a fan-out: its own stages, then its own sink."""

    name: str
    stages: Sequence[Stage]
    sink: Sink[R]

    def stage_names(self) -> list[str]:
        """``branch.stage`` for every stage, then ``branch.sink``."""
        return [f"{self.name}.{n}" for n in [*(s.name for s in self.stages), self.sink.name]]


class FanOut(Generic[R]):
    """A sink that tees its input to ``branches``; commits all of them or none."""

    name = "tee"

    def __init__(
        self,
        branches: Sequence[Branch[R]],
        *,
        capacity: int = DEFAULT_CAPACITY,
        byte_budget: int | None = None,
        share: Callable[[Any], Any] | None = None,
        undo: UndoCommit[R] | None = None,
    ) -> None:
        names = [branch.name for branch in branches]
        if not branches or len(set(names)) != len(names):
            raise ValueError("a fan-out needs at least one branch, each with its own name")
        self.branches = list(branches)
        self.capacity = capacity
        self.byte_budget = byte_budget
        self._share = share
        self._undo = undo
        #: Live metrics of every branch stage (``branch.stage``), branch after branch.
        self.metrics: dict[str, list[StageMetrics]] = {
            branch.name: [StageMetrics(name) for name in branch.stage_names()]
            for branch in branches
        }
        self._committed: dict[str, R] = {}
        self._undone: set[str] = set()

    def all_metrics(self) -> list[StageMetrics]:
        """Every branch stage's metrics, in branch order."""
        return [m for branch in self.branches for m in self.metrics[branch.name]]

    async def consume(self, ctx: StageContext) -> None:
        """Run the branches and send every frame of ``ctx.input`` to each of them."""
        channels = [
            Channel[Any](self.capacity, byte_budget=self.byte_budget, name=f"tee->{b.name}")
            for b in self.branches
        ]
        failures = FailureLog()
        try:
            async with anyio.create_task_group() as group:
                for branch, channel in zip(self.branches, channels, strict=True):
                    self._start_branch(group, branch, channel, failures)
                await self._distribute(ctx, channels)
        except BaseException as exc:
            failure = failures.first_failure()
            if failure is None or isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            stage, error = failure
            raise StageFailed(stage, error) from error

    async def commit(self) -> dict[str, R]:
        """Commit every branch's sink; on any failure take back the others, then raise."""
        errors: list[tuple[str, Exception]] = []

        async def commit_one(branch: Branch[R]) -> None:
            try:
                self._committed[branch.name] = await branch.sink.commit()
            except Exception as exc:
                errors.append((f"{branch.name}.{branch.sink.name}", exc))

        async with anyio.create_task_group() as group:
            for branch in self.branches:
                group.start_soon(commit_one, branch)
        if errors:
            with anyio.CancelScope(shield=True):
                await self.abort()
            stage, error = errors[0]
            raise StageFailed(stage, error) from error
        return {branch.name: self._committed[branch.name] for branch in self.branches}

    async def abort(self) -> None:
        """Abort every uncommitted sink and undo every committed one; safe to call twice."""

        async def abort_one(branch: Branch[R]) -> None:
            try:
                if branch.name in self._committed:
                    result = self._committed.pop(branch.name)
                    self._undone.add(branch.name)
                    if self._undo is not None:
                        await self._undo(branch.name, result)
                elif branch.name not in self._undone:
                    await branch.sink.abort()
            except Exception:
                logger.exception("taking back the output of branch %r failed", branch.name)

        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as group:
                for branch in self.branches:
                    group.start_soon(abort_one, branch)

    def _start_branch(
        self,
        group: TaskGroup,
        branch: Branch[R],
        incoming: Channel[Any],
        failures: FailureLog,
    ) -> None:
        functions: list[StageFunction] = [s.run for s in branch.stages] + [branch.sink.consume]
        names = branch.stage_names()
        metrics = self.metrics[branch.name]
        channels = [incoming] + [
            Channel[Any](self.capacity, byte_budget=self.byte_budget, name=f"{a}->{b}")
            for a, b in itertools.pairwise(names)
        ]
        for index, function in enumerate(functions):
            outgoing = channels[index + 1] if index + 1 < len(channels) else None
            group.start_soon(
                run_stage,
                function,
                names[index],
                channels[index],
                outgoing,
                metrics[index],
                failures,
            )

    async def _distribute(self, ctx: StageContext, channels: list[Channel[Any]]) -> None:
        finished = False
        try:
            async for frame in ctx.input:
                shared = self._share(frame) if self._share is not None else frame
                size = frame_size(frame)
                for channel in channels:
                    began = time.perf_counter()
                    await channel.send(shared)
                    ctx.metrics.record_output(size, time.perf_counter() - began)
            finished = True
        finally:
            for channel in channels:  # a branch never takes a cut-off input for the whole
                channel.close_sender(failed=not finished)
