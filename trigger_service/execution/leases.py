"""This worker's identity and the leases it holds on executions.

A worker holds every execution it has queued or is running, until ``lease_expires_at`` in the
store. :class:`LeaseKeeper` renews them all in one store round trip every third of the lease
(``--lease-seconds``), so a live worker's executions never expire; an execution whose lease
could not be renewed because another worker took it over is reported lost and its run is
stopped. A worker that dies stops renewing: after at most one lease period other workers may
take its executions over (a redelivered SQS message, or the sweep of :class:`Executor`).

A worker that is alive but cannot reach the store fences itself, on its own monotonic clock:
each held execution is good until the start of its last successful renewal (or the first
renewal that saw it, at most a renewal interval after the lease was granted) plus the lease
less one renewal interval — before the store's lease can have expired. Past that, its run is
stopped (``on_lost``) without waiting for the store, so nobody who takes it over races a
second writer. Failed renewals and failed progress saves (:meth:`LeaseKeeper.check`) never
extend that; a watchdog checks it too while a renewal hangs.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import anyio

from trigger_service.errors import StoreUnavailable
from trigger_service.store.protocol import ExecutionStore

logger = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 30.0


def default_worker_id() -> str:
    """``host-pid-random``: unique per process, readable in execution records."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class LeaseSettings:
    """Who this worker is and how long its leases last."""

    worker_id: str
    lease_seconds: float = DEFAULT_LEASE_SECONDS

    def __post_init__(self) -> None:
        if not self.worker_id or len(self.worker_id) > 200:
            raise ValueError("the worker id must have 1 to 200 characters")
        if self.lease_seconds < 1:
            raise ValueError("lease_seconds must be at least 1")

    @property
    def renew_every(self) -> float:
        """Seconds between two renewals: a third of the lease."""
        return self.lease_seconds / 3

    @property
    def stop_after(self) -> float:
        """Seconds after a renewal's start by which an unrenewed execution stops itself."""
        return self.lease_seconds - self.renew_every


class LeaseKeeper:
    """Renews the leases of ``held()`` every third of the lease; reports those lost."""

    def __init__(
        self,
        store: ExecutionStore,
        settings: LeaseSettings,
        held: Callable[[], Collection[str]],
        on_lost: Callable[[str], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self._held = held
        self._on_lost = on_lost
        self._clock = clock
        #: By when (``clock``) each held execution stops unless a renewal succeeds first.
        self._good_until: dict[str, float] = {}
        #: Store round trips made by renewals (for benchmarks and metrics).
        self.renewals = 0
        #: Renewals (and progress saves) that failed, and executions stopped unrenewed.
        self.failed_renewals = 0
        self.self_stopped = 0

    async def run(self) -> None:
        """Renew until cancelled; a watchdog stops what could not be renewed in time."""
        async with anyio.create_task_group() as group:
            group.start_soon(self._watch)
            while True:
                await anyio.sleep(self.settings.renew_every)
                await self.renew_once()

    async def _watch(self) -> None:
        while True:
            await anyio.sleep(min(1.0, self.settings.renew_every / 4))
            self._stop_unrenewed()

    def check(self) -> None:
        """A store write of this worker failed (a progress save): stop what is overdue."""
        self.failed_renewals += 1
        self._stop_unrenewed()

    def _stop_unrenewed(self) -> None:
        now = self._clock()
        held = set(self._held())
        for execution_id, until in list(self._good_until.items()):
            if execution_id not in held:
                del self._good_until[execution_id]
            elif now >= until:
                del self._good_until[execution_id]
                self.self_stopped += 1
                logger.warning(
                    "execution %s: stopped, its lease could not be renewed for %.1f s "
                    "(another worker may take it over)",
                    execution_id,
                    self.settings.stop_after,
                )
                self._on_lost(execution_id)

    async def renew_once(self) -> None:
        """One renewal of every held lease."""
        ids = list(self._held())
        if not ids:
            self._good_until.clear()
            return
        sent = self._clock()
        for execution_id in ids:
            self._good_until.setdefault(execution_id, sent + self.settings.stop_after)
        try:
            kept = await self.store.renew(self.settings.worker_id, ids, self.settings.lease_seconds)
        except StoreUnavailable as exc:
            logger.warning("could not renew %d lease(s): %s", len(ids), exc.message)
            self.check()
            return
        self.renewals += 1
        for execution_id in kept:
            if execution_id in self._good_until:
                self._good_until[execution_id] = sent + self.settings.stop_after
        still_held = set(self._held())
        for execution_id in ids:
            if execution_id not in kept and execution_id in still_held:
                logger.warning(
                    "execution %s: lease lost, another worker took it over", execution_id
                )
                self._on_lost(execution_id)

    async def release(self) -> None:
        """Give up every held lease at once (the worker is stopping), so others may take over."""
        ids = list(self._held())
        if not ids:
            return
        try:
            await self.store.renew(self.settings.worker_id, ids, 0)
        except Exception as exc:
            logger.warning("could not give up %d lease(s): %s", len(ids), exc)
        else:
            logger.info("gave up the leases of %d unfinished execution(s)", len(ids))
