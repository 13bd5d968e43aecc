"""A worker thread holding a CPU token lends it back while it waits on the event loop."""

from __future__ import annotations

import anyio
import anyio.to_thread
import pytest

from steps.cpu import CpuGate

pytestmark = pytest.mark.anyio


async def test_the_token_is_lent_during_the_wait_and_taken_again() -> None:
    limiter = anyio.CapacityLimiter(1)
    gate = CpuGate(limiter)
    seen: list[float] = []

    async def wait() -> str:
        seen.append(limiter.borrowed_tokens)
        return "chunk"

    def worker() -> tuple[str, float]:
        result = gate.run_waiting(wait)
        return result, limiter.borrowed_tokens

    with anyio.fail_after(5):
        async with gate:
            result, after = await anyio.to_thread.run_sync(worker)
    assert (result, seen, after) == ("chunk", [0], 1)
    assert limiter.borrowed_tokens == 0


async def test_another_task_gets_the_token_while_the_worker_waits() -> None:
    limiter = anyio.CapacityLimiter(1)
    gate = CpuGate(limiter)
    other_ran = anyio.Event()

    async def other() -> None:
        async with limiter:
            other_ran.set()

    async def wait() -> None:
        await other_ran.wait()  # only possible if the token was lent back

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group, gate:
            group.start_soon(other)
            await anyio.to_thread.run_sync(gate.run_waiting, wait)
    assert other_ran.is_set()


async def test_a_failed_wait_does_not_take_the_token_again() -> None:
    limiter = anyio.CapacityLimiter(1)
    gate = CpuGate(limiter)

    async def broken() -> None:
        raise anyio.BrokenResourceError

    with anyio.fail_after(5):
        async with gate:
            with pytest.raises(anyio.BrokenResourceError):
                await anyio.to_thread.run_sync(gate.run_waiting, broken)
            assert limiter.borrowed_tokens == 0
    assert limiter.borrowed_tokens == 0
