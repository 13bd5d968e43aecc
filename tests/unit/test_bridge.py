"""Channels and the pipeline runner: one behaviour per test, with deadlock guards."""

from __future__ import annotations

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.lowlevel import checkpoint

from bridge import (
    Channel,
    ChannelClosed,
    Stage,
    StageContext,
    StageFailed,
    StageMetrics,
    StageStatus,
    run_pipeline,
)
from bridge.errors import UpstreamFailed
from tests.support.fakes import MemorySink

pytestmark = pytest.mark.anyio


def source_of(frames: list[bytes]) -> Stage:
    async def source(ctx: StageContext) -> None:
        for frame in frames:
            await ctx.write(frame)

    return Stage("source", source)


async def upper(ctx: StageContext) -> None:
    async for frame in ctx.input:
        await ctx.write(frame.upper())


async def test_send_blocks_when_full_and_resumes_after_receive() -> None:
    channel: Channel[bytes] = Channel(2)
    sent: list[int] = []

    async def producer() -> None:
        for index in range(3):
            await channel.send(b"x")
            sent.append(index)

    with anyio.fail_after(1):
        async with anyio.create_task_group() as group:
            group.start_soon(producer)
            await wait_all_tasks_blocked()
            assert sent == [0, 1]
            assert channel.statistics().frames_buffered == 2
            assert await channel.receive() == b"x"
            await wait_all_tasks_blocked()
            assert sent == [0, 1, 2]
    assert channel.statistics().max_frames_buffered == 2


async def test_closing_sender_ends_iteration_without_error() -> None:
    channel: Channel[bytes] = Channel(4)
    await channel.send(b"a")
    channel.close_sender()
    assert await channel.receive() == b"a"
    with pytest.raises(anyio.EndOfStream):
        await channel.receive()


async def test_sender_closed_as_failed_ends_with_upstream_failed_after_the_buffer() -> None:
    channel: Channel[bytes] = Channel(4)
    await channel.send(b"a")
    channel.close_sender(failed=True)
    assert await channel.receive() == b"a"
    with pytest.raises(UpstreamFailed):
        await channel.receive()


async def test_stage_after_a_failed_source_is_cancelled_not_ended() -> None:
    """A stage that finalises at the end of its input never sees a cut-off input as whole."""
    sink = MemorySink()
    ended_normally: list[int] = []

    async def count(ctx: StageContext) -> None:
        frames = 0
        with anyio.CancelScope(shield=True):  # like work in a thread: cancelled only when done
            async for _ in ctx.input:
                frames += 1
        ended_normally.append(frames)  # e.g. a trailer written, a "file is empty" error
        await ctx.write(b"%d" % frames)

    async def short_source(ctx: StageContext) -> None:
        await ctx.write(b"partial")
        raise ConnectionResetError("peer reset")

    stages = [Stage("read", short_source), Stage("count", count)]
    metrics = [StageMetrics(name) for name in ("read", "count", "sink")]
    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline(stages, sink, metrics=metrics)
    assert caught.value.stage == "read" and isinstance(caught.value.error, ConnectionResetError)
    assert ended_normally == []
    assert [m.status for m in metrics] == [
        StageStatus.FAILED,
        StageStatus.CANCELLED,
        StageStatus.CANCELLED,
    ]
    assert "error" not in metrics[1].extra and "error" not in metrics[2].extra
    assert not sink.committed and sink.aborted == 1


async def test_receive_nowait_takes_a_buffered_frame_or_says_none_is_there() -> None:
    channel: Channel[bytes] = Channel(2, byte_budget=4)
    with pytest.raises(anyio.WouldBlock):
        channel.receive_nowait()
    await channel.send(b"abc")
    assert channel.receive_nowait() == b"abc"
    assert channel.statistics().bytes_pending == 0  # the budget is given back as by receive
    channel.close_sender()
    with pytest.raises(anyio.EndOfStream):
        channel.receive_nowait()


async def test_receive_nowait_reports_a_failed_sender_after_the_buffer() -> None:
    channel: Channel[bytes] = Channel(2)
    await channel.send(b"a")
    channel.close_sender(failed=True)
    assert channel.receive_nowait() == b"a"
    with pytest.raises(UpstreamFailed):
        channel.receive_nowait()


async def test_stage_input_receive_nowait_counts_the_frame_and_ends_with_stop() -> None:
    seen: list[object] = []

    async def taker(ctx: StageContext) -> None:
        while True:
            try:
                seen.append(ctx.input.receive_nowait())
            except anyio.WouldBlock:
                await anyio.sleep(0.001)
            except StopAsyncIteration:
                return

    sink = MemorySink()
    with anyio.fail_after(10):
        result = await run_pipeline([source_of([b"x", b"yz"]), Stage("taker", taker)], sink)
    assert seen == [b"x", b"yz"]
    taker_metrics = next(m for m in result.stages if m.name == "taker")
    assert (taker_metrics.frames_in, taker_metrics.bytes_in) == (2, 3)


async def test_send_after_receiver_closed_raises_channel_closed() -> None:
    channel: Channel[bytes] = Channel(1)
    channel.close_receiver()
    with pytest.raises(ChannelClosed):
        await channel.send(b"a")


async def test_byte_budget_limits_pending_bytes() -> None:
    channel: Channel[bytes] = Channel(10, byte_budget=100)
    sent = 0

    async def producer() -> None:
        nonlocal sent
        for _ in range(5):
            await channel.send(b"x" * 40)
            sent += 1

    with anyio.fail_after(1):
        async with anyio.create_task_group() as group:
            group.start_soon(producer)
            await wait_all_tasks_blocked()
            assert sent == 2
            assert channel.statistics().bytes_pending == 80
            for _ in range(5):
                await channel.receive()
    stats = channel.statistics()
    assert stats.max_bytes_pending <= 100
    assert stats.bytes_sent == 200


async def test_frame_larger_than_budget_passes_alone() -> None:
    channel: Channel[bytes] = Channel(2, byte_budget=10)
    with anyio.fail_after(1):
        await channel.send(b"y" * 50)
        assert await channel.receive() == b"y" * 50


async def test_pipeline_commits_after_all_stages_succeed() -> None:
    sink = MemorySink()
    with anyio.fail_after(2):
        result = await run_pipeline(
            [source_of([b"ab", b"cd"]), Stage("upper", upper)], sink, capacity=1
        )
    assert result.output == b"ABCD"
    assert sink.committed and sink.aborted == 0
    assert [m.name for m in result.stages] == ["source", "upper", "sink"]
    assert all(m.status is StageStatus.SUCCEEDED for m in result.stages)
    assert result.stages[1].bytes_in == 4 and result.stages[1].frames_out == 2


async def test_failure_reports_original_error_and_aborts() -> None:
    sink = MemorySink()

    async def fail_on_second(ctx: StageContext) -> None:
        count = 0
        async for frame in ctx.input:
            count += 1
            if count == 2:
                raise ValueError("bad frame")
            await ctx.write(frame)

    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline(
            [source_of([b"1"] * 50), Stage("picky", fail_on_second), Stage("upper", upper)], sink
        )
    assert caught.value.stage == "picky"
    assert isinstance(caught.value.error, ValueError)
    assert not sink.committed and sink.aborted == 1


async def test_failing_sink_is_reported_not_the_broken_upstream() -> None:
    class FailingSink(MemorySink):
        async def consume(self, ctx: StageContext) -> None:
            async for _ in ctx.input:
                raise KeyError("disk full")

    sink = FailingSink()
    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline([source_of([b"z"] * 20), Stage("upper", upper)], sink)
    assert caught.value.stage == "sink"
    assert isinstance(caught.value.error, KeyError)
    assert sink.aborted == 1


async def test_source_failure_after_some_frames_never_commits_truncated_output() -> None:
    sink = MemorySink()

    async def short_source(ctx: StageContext) -> None:
        await ctx.write(b"partial")
        raise ConnectionResetError("peer reset")

    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline([Stage("read", short_source)], sink)
    assert caught.value.stage == "read"
    assert not sink.committed and sink.aborted == 1


async def test_commit_failure_aborts_and_is_reported() -> None:
    sink = MemorySink(fail_commit=True)
    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline([source_of([b"a"])], sink)
    assert caught.value.stage == "sink"
    assert sink.aborted == 1


async def test_cancellation_aborts_and_propagates() -> None:
    sink = MemorySink(delay=10)
    with anyio.move_on_after(0.2) as scope:
        await run_pipeline([source_of([b"a"] * 10)], sink)
    assert scope.cancelled_caught
    assert sink.aborted == 1 and not sink.committed


async def test_stage_returning_early_lets_upstream_finish() -> None:
    sink = MemorySink()

    async def first_only(ctx: StageContext) -> None:
        async for frame in ctx.input:
            await ctx.write(frame)
            return

    with anyio.fail_after(2):
        result = await run_pipeline(
            [source_of([b"a", b"b", b"c"]), Stage("head", first_only)], sink
        )
    assert result.output == b"a"


async def test_backpressure_bounds_frames_in_memory_with_slow_sink() -> None:
    sink = MemorySink()
    produced = 0

    async def fast_source(ctx: StageContext) -> None:
        nonlocal produced
        for _ in range(200):
            await ctx.write(b"f" * 1024)
            produced += 1

    async def slow_consume(ctx: StageContext) -> None:
        async for frame in ctx.input:
            for _ in range(5):
                await checkpoint()
            sink.frames.append(frame)

    sink.consume = slow_consume  # type: ignore[method-assign]
    with anyio.fail_after(5):
        result = await run_pipeline(
            [Stage("source", fast_source), Stage("upper", upper)], sink, capacity=3
        )
    assert produced == 200 and len(sink.frames) == 200
    for stats in result.channels:
        assert stats.max_frames_buffered <= 3
        assert stats.max_bytes_pending <= 4 * 1024
    assert result.stages[0].send_blocked_seconds > 0
