"""Fakes behind real interfaces: a pipeline sink that keeps its output in memory, a slow step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio

from bridge import StageContext
from steps import StepContext


@dataclass
class MemorySink:
    """A pipeline sink collecting frames; only ``commit`` makes them the ``output``.

    ``delay`` slows every frame down (a slow consumer); ``fail_commit`` makes commit raise.
    ``aborted`` counts the aborts, so tests can check there was exactly one.
    """

    name: str = "sink"
    frames: list[Any] = field(default_factory=list)
    committed: bool = False
    aborted: int = 0
    delay: float = 0.0
    fail_commit: bool = False
    output: bytes | None = None

    async def consume(self, ctx: StageContext) -> None:
        """Keep every frame, in order."""
        async for frame in ctx.input:
            if self.delay:
                await anyio.sleep(self.delay)
            self.frames.append(frame)

    async def commit(self) -> bytes:
        """The whole output, joined."""
        if self.fail_commit:
            raise RuntimeError("commit refused")
        self.committed = True
        self.output = b"".join(bytes(frame) for frame in self.frames)
        return self.output

    async def abort(self) -> None:
        """Count the abort; nothing becomes the output."""
        self.aborted += 1


async def crawl(ctx: StepContext) -> None:
    """A slow user step (``tests.support.fakes:crawl``): each chunk forwarded after 0.3 s."""
    async for chunk in ctx.input:
        await ctx.write(chunk)
        await anyio.sleep(0.3)
