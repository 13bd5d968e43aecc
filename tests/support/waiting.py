"""Waiting for a condition with a deadline (a deadlock guard, never a timing assertion)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio


async def eventually(
    check: Callable[[], Awaitable[bool]], *, within: float = 20.0, interval: float = 0.05
) -> None:
    """Poll ``check`` until it is true; ``TimeoutError`` after ``within`` seconds."""
    with anyio.fail_after(within):
        while True:
            if await check():
                return
            await anyio.sleep(interval)


def wait_for(check: Callable[[], bool], *, within: float, interval: float = 0.1) -> None:
    """Blocking variant of :func:`eventually`, for tests driving a subprocess."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within} s")
        time.sleep(interval)
