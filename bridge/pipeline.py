"""The pipeline runner: every stage at once, one bounded channel between each pair.

``run_pipeline`` starts the source, the stages and the sink's ``consume`` in one task group.
Data safety rests on one rule: end of stream is never success. The sink only buffers and
uploads; the runner alone calls ``sink.commit()``, and only after every stage (and
``consume``) returned cleanly. Any error or cancellation calls ``sink.abort()`` (shielded, so
a timeout cannot skip it) and the error reported is the original one, wrapped in
:class:`~bridge.errors.StageFailed` with the failing stage's name — never the
``BrokenResourceError``/``ChannelClosed`` knock-on effects it caused in its neighbours.

Once started, ``sink.commit()`` is shielded from cancellation (an execution's timeout, a
stopping worker) and bounded by its own ``commit_timeout`` instead: a write the store finished
is never abandoned half-way and reported as failed. A caller whose deadline passed during the
commit still gets the output back, and decides what a late success means.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import anyio

from bridge.channel import Channel, ChannelStatistics
from bridge.errors import ChannelClosed, StageFailed, UpstreamFailed
from bridge.frames import frame_size
from bridge.metrics import StageMetrics, StageStatus

logger = logging.getLogger(__name__)

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

#: Exceptions a stage sees because a *neighbour* failed; never reported as the cause.
KNOCK_ON_ERRORS: tuple[type[BaseException], ...] = (
    ChannelClosed,  # UpstreamFailed too
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)

DEFAULT_CAPACITY = 2
#: Seconds a shielded ``sink.commit()`` may take before it is given up as failed.
DEFAULT_COMMIT_TIMEOUT = 120.0


class StageInput:
    """The frames arriving at a stage, in order; iterate with ``async for``."""

    def __init__(self, channel: Channel[Any] | None, metrics: StageMetrics) -> None:
        self._channel = channel
        self._metrics = metrics

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._channel is None:
            raise StopAsyncIteration
        began = time.perf_counter()
        try:
            frame = await self._channel.receive()
        except anyio.EndOfStream:
            self._metrics.receive_blocked_seconds += time.perf_counter() - began
            raise StopAsyncIteration from None
        self._metrics.record_input(frame_size(frame), time.perf_counter() - began)
        return frame

    def receive_nowait(self) -> Any:
        """The next frame if it has arrived, else :class:`anyio.WouldBlock`;
        :class:`StopAsyncIteration` at the end of the stream. For a worker thread that would
        rather not give up what it holds (a CPU token) when a frame is already there."""
        if self._channel is None:
            raise StopAsyncIteration
        try:
            frame = self._channel.receive_nowait()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
        self._metrics.record_input(frame_size(frame), 0.0)
        return frame

    async def drain(self) -> int:
        """Discard whatever is left, so upstream can finish; returns the frames discarded."""
        discarded = 0
        async for _ in self:
            discarded += 1
        return discarded


@dataclass
class StageContext:
    """What a stage sees: its input frames and a ``write`` for its output frames."""

    name: str
    input: StageInput
    metrics: StageMetrics
    _output: Channel[Any] | None = field(repr=False)

    async def write(self, frame: Any) -> None:
        """Send one frame downstream, waiting while the next stage is behind (backpressure)."""
        if self._output is None:
            raise RuntimeError(f"stage {self.name!r} is the last stage and has no output")
        began = time.perf_counter()
        await self._output.send(frame)
        self.metrics.record_output(frame_size(frame), time.perf_counter() - began)


StageFunction = Callable[[StageContext], Awaitable[None]]


@dataclass(frozen=True)
class Stage:
    """A named stage function. The first stage of a pipeline is its source (no input)."""

    name: str
    run: StageFunction


class Sink(Protocol[R_co]):
    """The end of a pipeline: consumes frames, and commits only when the runner says so."""

    name: str

    async def consume(self, ctx: StageContext) -> None:
        """Take every frame of ``ctx.input``; must not make anything visible on end of stream."""
        ...

    async def commit(self) -> R_co:
        """Make the output visible; called only after every stage returned cleanly."""
        ...

    async def abort(self) -> None:
        """Discard everything consumed so far; must be safe to call at any point, and twice."""
        ...


@dataclass
class PipelineResult(Generic[R]):
    """The sink's commit result and the metrics of every stage (sink last)."""

    output: R
    stages: list[StageMetrics]
    channels: list[ChannelStatistics]


@dataclass
class FailureLog:
    """The errors stages raised, in order; the first original one is the cause."""

    failures: list[tuple[str, BaseException]] = field(default_factory=list)

    def first_failure(self) -> tuple[str, BaseException] | None:
        """The first original failure, else the first knock-on one, else None."""
        for stage, error in self.failures:
            if not isinstance(error, KNOCK_ON_ERRORS):
                return stage, error
        return self.failures[0] if self.failures else None


async def run_pipeline(
    stages: Sequence[Stage],
    sink: Sink[R],
    *,
    capacity: int = DEFAULT_CAPACITY,
    byte_budget: int | None = None,
    metrics: Sequence[StageMetrics] | None = None,
    commit_timeout: float = DEFAULT_COMMIT_TIMEOUT,
) -> PipelineResult[R]:
    """Run ``stages`` (the first one is the source) into ``sink`` and commit or abort.

    The commit runs shielded from cancellation, within ``commit_timeout`` seconds.

    ``metrics`` may be passed in (one per stage, plus one for the sink) to watch progress
    live from another task. Raises :class:`StageFailed` carrying the original error; on
    cancellation the sink is aborted and the cancellation propagates.
    """
    if not stages:
        raise ValueError("a pipeline needs at least a source stage")
    names = [stage.name for stage in stages] + [sink.name]
    all_metrics = list(metrics) if metrics is not None else [StageMetrics(n) for n in names]
    if len(all_metrics) != len(names):
        raise ValueError("metrics must hold one entry per stage plus one for the sink")
    channels: list[Channel[Any]] = [
        Channel(capacity, byte_budget=byte_budget, name=f"{names[i]}->{names[i + 1]}")
        for i in range(len(stages))
    ]
    run = FailureLog()
    functions: list[StageFunction] = [stage.run for stage in stages] + [sink.consume]
    try:
        async with anyio.create_task_group() as group:
            for index, function in enumerate(functions):
                group.start_soon(
                    run_stage,
                    function,
                    names[index],
                    channels[index - 1] if index > 0 else None,
                    channels[index] if index < len(stages) else None,
                    all_metrics[index],
                    run,
                )
    except BaseException as exc:
        await _abort(sink)
        failure = run.first_failure()
        if failure is None or isinstance(exc, anyio.get_cancelled_exc_class()):
            raise
        stage_name, error = failure
        if isinstance(error, StageFailed):  # a composite sink (a tee) named the stage
            raise error from error.error
        raise StageFailed(stage_name, error) from error
    try:
        with anyio.CancelScope(shield=True):
            with anyio.fail_after(commit_timeout):
                output = await sink.commit()
    except BaseException as exc:
        await _abort(sink)
        if isinstance(exc, StageFailed):
            raise
        if isinstance(exc, Exception):
            raise StageFailed(sink.name, exc) from exc
        raise
    return PipelineResult(
        output=output,
        stages=all_metrics,
        channels=[channel.statistics() for channel in channels],
    )


async def run_stage(
    function: StageFunction,
    name: str,
    incoming: Channel[Any] | None,
    outgoing: Channel[Any] | None,
    metrics: StageMetrics,
    run: FailureLog,
) -> None:
    context = StageContext(
        name=name, input=StageInput(incoming, metrics), metrics=metrics, _output=outgoing
    )
    metrics.status = StageStatus.RUNNING
    metrics.started_at = time.time()
    try:
        await function(context)
        await context.input.drain()
    except anyio.get_cancelled_exc_class():
        metrics.status = StageStatus.CANCELLED
        raise
    except BaseException as exc:
        original = root_cause(exc)
        run.failures.append((name, original))
        if isinstance(original, UpstreamFailed):  # stopped by the stage before, no fault here
            metrics.status = StageStatus.CANCELLED
        else:
            metrics.status = StageStatus.FAILED
            metrics.extra["error"] = f"{type(original).__name__}: {original}"
        raise
    else:
        metrics.status = StageStatus.SUCCEEDED
    finally:
        metrics.finished_at = time.time()
        if outgoing is not None:
            outgoing.close_sender(failed=metrics.status is not StageStatus.SUCCEEDED)
        if incoming is not None:
            incoming.close_receiver()


def root_cause(error: BaseException) -> BaseException:
    """The first original error inside (nested) exception groups, knock-on errors last."""
    if not isinstance(error, BaseExceptionGroup):
        return error
    leaves = [root_cause(inner) for inner in error.exceptions]
    for leaf in leaves:
        if not isinstance(leaf, KNOCK_ON_ERRORS) and not isinstance(
            leaf, anyio.get_cancelled_exc_class()
        ):
            return leaf
    return leaves[0] if leaves else error


async def _abort(sink: Sink[Any]) -> None:
    with anyio.CancelScope(shield=True):
        try:
            await sink.abort()
        except Exception:
            logger.exception("aborting sink %r failed", sink.name)
