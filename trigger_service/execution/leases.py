"""This worker's identity and the leases it holds on executions.

A worker holds every execution it has queued or is running, until ``lease_expires_at`` in the
store. :class:`LeaseKeeper` renews them all in one store round trip every third of the lease
(``--lease-seconds``), so a live worker's executions never expire; an execution whose lease
could not be renewed because another worker took it over is reported lost and its run is
stopped. A worker that dies stops renewing: after at most one lease period other workers may
take its executions over (a redelivered SQS message, or the sweep of :class:`Executor`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
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


class LeaseKeeper:
    """Renews the leases of ``held()`` every third of the lease; reports those lost."""

    def __init__(
        self,
        store: ExecutionStore,
        settings: LeaseSettings,
        held: Callable[[], Collection[str]],
        on_lost: Callable[[str], None],
    ) -> None:
        self.store = store
        self.settings = settings
        self._held = held
        self._on_lost = on_lost
        #: Store round trips made by renewals (for benchmarks and metrics).
        self.renewals = 0

    async def run(self) -> None:
        """Renew until cancelled."""
        while True:
            await anyio.sleep(self.settings.renew_every)
            await self.renew_once()

    async def renew_once(self) -> None:
        """One renewal of every held lease."""
        ids = list(self._held())
        if not ids:
            return
        try:
            kept = await self.store.renew(self.settings.worker_id, ids, self.settings.lease_seconds)
        except StoreUnavailable as exc:
            logger.warning("could not renew %d lease(s): %s", len(ids), exc.message)
            return
        self.renewals += 1
        still_held = set(self._held())
        for execution_id in ids:
            if execution_id not in kept and execution_id in still_held:
                logger.warning(
                    "execution %s: lease lost, another worker took it over", execution_id
                )
                self._on_lost(execution_id)
