"""The fan-out tee: every branch sees every frame, backpressure, all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import pytest

from bridge import Branch, FanOut, Stage, StageContext, StageFailed, run_pipeline
from storage_adapter import TransferSettings

pytestmark = pytest.mark.anyio


@dataclass
class Collector:
    """A sink that keeps frames and what the runner told it."""

    name: str = "write"
    frames: list[object] = field(default_factory=list)
    delay: float = 0.0
    fail_commit: bool = False
    committed: bool = False
    aborted: int = 0

    async def consume(self, ctx: StageContext) -> None:
        async for frame in ctx.input:
            if self.delay:
                await anyio.sleep(self.delay)
            self.frames.append(frame)

    async def commit(self) -> int:
        if self.fail_commit:
            raise OSError("complete refused")
        self.committed = True
        return len(self.frames)

    async def abort(self) -> None:
        self.aborted += 1


def source_of(frames: list[bytes], log: list[str] | None = None) -> Stage:
    async def source(ctx: StageContext) -> None:
        for index, frame in enumerate(frames):
            await ctx.write(frame)
            if log is not None:
                log.append(f"sent {index}")

    return Stage("read", source)


async def upper(ctx: StageContext) -> None:
    async for frame in ctx.input:
        await ctx.write(frame.upper())


async def explode(ctx: StageContext) -> None:
    async for _ in ctx.input:
        raise ValueError("bad frame")


async def test_every_branch_gets_every_frame_through_its_own_stages() -> None:
    plain, shouted = Collector(), Collector()
    tee = FanOut([Branch("plain", [], plain), Branch("loud", [Stage("upper", upper)], shouted)])
    with anyio.fail_after(2):
        result = await run_pipeline([source_of([b"a", b"b", b"c"])], tee)
    assert result.output == {"plain": 3, "loud": 3}
    assert plain.frames == [b"a", b"b", b"c"] and shouted.frames == [b"A", b"B", b"C"]
    assert plain.committed and shouted.committed
    names = [m.name for m in tee.all_metrics()]
    assert names == ["plain.write", "loud.upper", "loud.write"]
    assert [m.bytes_in for m in tee.all_metrics()] == [3, 3, 3]
    assert result.stages[0].bytes_out == 3  # the source was read once
    assert result.stages[-1].bytes_in == 3 and result.stages[-1].bytes_out == 6


async def test_branches_receive_the_same_object_marked_by_share() -> None:
    seen: list[object] = []
    first, second = Collector(), Collector()

    def share(frame: object) -> object:
        seen.append(frame)
        return ("shared", frame)

    tee = FanOut([Branch("a", [], first), Branch("b", [], second)], share=share)
    with anyio.fail_after(2):
        await run_pipeline([source_of([b"x"])], tee)
    assert first.frames == [("shared", b"x")]
    assert first.frames[0] is second.frames[0]  # one object, not a copy per branch
    assert seen == [b"x"]


async def test_a_slow_branch_holds_the_source_back() -> None:
    """Backpressure: the source can only run a bounded number of frames ahead."""
    log: list[str] = []
    slow = Collector(delay=0.05)
    fast = Collector()
    tee = FanOut([Branch("slow", [], slow), Branch("fast", [], fast)], capacity=1)
    frames = [bytes([i]) for i in range(20)]

    async def watch() -> None:
        while len(slow.frames) < 5:
            await anyio.sleep(0.001)
            # source's channel (1) + tee in hand (1) + slow's channel (1) + in hand (1)
            assert len(log) - len(slow.frames) <= 5

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(watch)
            await run_pipeline([source_of(frames, log)], tee, capacity=1)
    assert slow.frames == frames and fast.frames == frames
    assert tee.all_metrics()[1].receive_blocked_seconds > 0  # the fast branch waited


async def test_one_failing_branch_aborts_every_branch_and_names_its_stage() -> None:
    good, bad = Collector(), Collector()
    tee = FanOut([Branch("good", [], good), Branch("bad", [Stage("user", explode)], bad)])
    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline([source_of([b"a", b"b"] * 50)], tee)
    assert caught.value.stage == "bad.user"
    assert isinstance(caught.value.error, ValueError)
    assert not good.committed and not bad.committed
    assert good.aborted >= 1 and bad.aborted >= 1


async def test_a_failed_commit_takes_back_the_committed_branches() -> None:
    taken_back: list[tuple[str, int]] = []

    async def undo(name: str, result: int) -> None:
        taken_back.append((name, result))

    first, second, refused = Collector(), Collector(), Collector(fail_commit=True)
    tee = FanOut(
        [Branch("one", [], first), Branch("two", [], second), Branch("three", [], refused)],
        undo=undo,
    )
    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline([source_of([b"a"])], tee)
    assert caught.value.stage == "three.write"
    assert sorted(taken_back) == [("one", 1), ("two", 1)]
    assert refused.aborted >= 1  # the branch whose commit failed is aborted
    assert first.aborted == 0 and second.aborted == 0  # committed ones are undone, not aborted


async def test_a_failing_source_commits_no_branch() -> None:
    async def broken(ctx: StageContext) -> None:
        await ctx.write(b"a")
        raise ConnectionError("read failed")

    one, two = Collector(), Collector()
    tee = FanOut([Branch("one", [], one), Branch("two", [], two)])
    with anyio.fail_after(2), pytest.raises(StageFailed) as caught:
        await run_pipeline([Stage("read", broken)], tee)
    assert caught.value.stage == "read"
    assert not one.committed and not two.committed and one.aborted and two.aborted


def test_branch_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="own name"):
        FanOut([Branch("a", [], Collector()), Branch("a", [], Collector())])


def test_memory_bound_counts_each_branch_channels_and_writer() -> None:
    settings = TransferSettings(
        chunk_size=1, read_ahead=2, part_size=5 * 1024**2, parts_in_flight=2
    )
    single = settings.memory_bound(1)
    assert single == 2 + 2 * 3 + 3 * settings.part_size
    # no shared step; branches of 1 and 2 steps: channels read→tee, tee→a→w, tee→b→c→w
    fan_out = settings.memory_bound(0, branches=[1, 2])
    assert fan_out == 2 + (1 + 2 + 3) * 3 + 2 * 3 * settings.part_size
