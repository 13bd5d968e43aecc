"""CPU work off the event loop, bounded by one limiter of ``os.cpu_count()`` tokens.

Pure CPU work (resize, watermark, rotate) runs through :func:`run_cpu`. Decode and encode run in
a worker thread that also waits — for the next input chunk, or for the next stage to take an
output chunk — so they hold a token through a :class:`CpuGate`, which lends the token back while
the thread waits: a slow download never keeps a CPU token idle.

The limiter lives in an anyio ``RunVar``, so there is one per event loop.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar, TypeVarTuple

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.lowlevel import RunVar

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_CPU_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("bucketstream_cpu_limiter")


def cpu_limiter() -> anyio.CapacityLimiter:
    """The running event loop's CPU limiter (``os.cpu_count()`` tokens), made on first use."""
    try:
        return _CPU_LIMITER.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(os.cpu_count() or 1)
        _CPU_LIMITER.set(limiter)
        return limiter


async def run_cpu(function: Callable[[*Ts], T], *args: *Ts) -> T:
    """Run ``function(*args)`` in a worker thread holding a CPU token."""
    return await anyio.to_thread.run_sync(function, *args, limiter=cpu_limiter())


class CpuGate:
    """One CPU token for a worker thread that also waits on the event loop.

    ``async with gate:`` takes the token; in the worker thread, :meth:`run_waiting` awaits a
    coroutine function on the event loop with the token given back meanwhile — one trip to the
    loop for the release, the wait and the new acquire, which matters on a busy machine, where
    each trip waits for the loop's thread to be scheduled.
    """

    def __init__(self, limiter: anyio.CapacityLimiter | None = None) -> None:
        self._limiter = limiter or cpu_limiter()
        self._held = False

    async def __aenter__(self) -> CpuGate:
        await self._acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release()

    def run_waiting(self, function: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        """In the worker thread: ``await function(*args)`` on the event loop, token lent back.

        If it raises (cancellation, a closed channel) the token is not taken again.
        """
        return anyio.from_thread.run(self._lend, function, *args)

    async def _lend(self, function: Callable[[*Ts], Awaitable[T]], *args: *Ts) -> T:
        self._release()
        result = await function(*args)
        await self._acquire()
        return result

    async def _acquire(self) -> None:
        await self._limiter.acquire_on_behalf_of(self)
        self._held = True

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._limiter.release_on_behalf_of(self)
