"""User steps referenced by import path from the reliability suite's workflow files.

``slow`` forwards every chunk and then sleeps, so executions are still running when a test
kills the service; it sleeps only once ``after_bytes`` have gone through, so the output's
multipart upload is already open while it dawdles.
"""

from __future__ import annotations

import anyio

from steps import StepContext


async def slow(ctx: StepContext) -> None:
    """Forward every chunk; after ``after_bytes`` bytes, sleep ``delay`` seconds per chunk."""
    delay = float(getattr(ctx.params, "delay", 0.1))
    after_bytes = int(getattr(ctx.params, "after_bytes", 0))
    passed = 0
    async for chunk in ctx.input:
        await ctx.write(chunk)
        passed += len(chunk)
        if passed >= after_bytes:
            await anyio.sleep(delay)
