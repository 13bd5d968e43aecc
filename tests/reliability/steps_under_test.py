"""User steps referenced by import path from the reliability suite's workflow files.

``slow`` forwards every chunk and then sleeps, so executions take a while.

``parking`` forwards every chunk, and once ``after_bytes`` have gone through it *parks* if the
file ``<park_dir>/park`` exists: it creates a ``parked-*`` marker in ``park_dir`` and waits
until ``park`` is removed (at most ``max_park_seconds``). With ``after_bytes`` at the part size,
the output's multipart upload is open while an execution is parked, and it cannot commit: a
test can kill the service at a moment it controls.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio

from steps import StepContext

#: How often a parked step looks for its release.
PARK_POLL = 0.05


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


async def parking(ctx: StepContext) -> None:
    """Forward every chunk; park once after ``after_bytes`` bytes while ``park_dir/park`` exists."""
    directory = Path(str(ctx.params.park_dir))
    after_bytes = int(getattr(ctx.params, "after_bytes", 0))
    max_park = float(getattr(ctx.params, "max_park_seconds", 120))
    passed = 0
    checked = False
    async for chunk in ctx.input:
        await ctx.write(chunk)
        passed += len(chunk)
        if checked or passed < after_bytes:
            continue
        checked = True
        park = directory / "park"
        if not park.exists():
            continue
        (directory / f"parked-{uuid.uuid4().hex}").touch()
        for _ in range(int(max_park / PARK_POLL)):
            if not park.exists():
                break
            await anyio.sleep(PARK_POLL)
