"""Whether this worker can do its work: the execution store and the storage both answer.

One :class:`Health` per service is the signal ``GET /healthz`` reports and the SQS pollers
obey: while it says down, pollers receive nothing (a message received then could only fail
and use one of its deliveries). A check is one store round trip (``ping``) and one HeadBucket
of a trigger bucket, each bounded by ``timeout`` seconds; its answer is kept ``ttl`` seconds,
so a probe every second and several pollers cost one check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from storage_adapter import StorageError, StorageIO, storage_answers
from trigger_service.errors import StoreUnavailable
from trigger_service.store.protocol import ExecutionStore

logger = logging.getLogger(__name__)

#: Seconds a check waits for each of the store and the storage.
CHECK_TIMEOUT = 3.0
#: Seconds an answer is reused.
CHECK_TTL = 1.0


@dataclass(frozen=True)
class HealthReport:
    """The answer of one check; ``reason`` names what is down (None when healthy)."""

    store: bool
    storage: bool
    reason: str | None = None

    @property
    def healthy(self) -> bool:
        """Whether both answered."""
        return self.store and self.storage


class Health:
    """Checks the store and the storage; shared by ``/healthz`` and the pollers."""

    def __init__(
        self,
        store: ExecutionStore,
        io: StorageIO | None,
        buckets: Sequence[str],
        *,
        timeout: float = CHECK_TIMEOUT,
        ttl: float = CHECK_TTL,
    ) -> None:
        self.store = store
        self.io = io
        self.buckets = tuple(buckets)
        self.timeout = timeout
        self.ttl = ttl
        self._last: tuple[float, HealthReport] | None = None
        self._lock = anyio.Lock()

    async def check(self) -> HealthReport:
        """The current report (a fresh check at most every ``ttl`` seconds)."""
        async with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self.ttl:
                return self._last[1]
            report = await self._check()
            self._last = (time.monotonic(), report)
            return report

    async def _check(self) -> HealthReport:
        reasons: list[str] = []
        store_ok = storage_ok = True
        try:
            with anyio.fail_after(self.timeout):
                await self.store.ping()
        except (StoreUnavailable, TimeoutError) as exc:
            store_ok = False
            detail = exc.message if isinstance(exc, StoreUnavailable) else "no answer in time"
            reasons.append(f"execution store: {detail}")
        if self.io is not None and self.buckets:
            try:
                with anyio.fail_after(self.timeout):
                    await self.io.call(storage_answers, self.io.client, self.buckets[0])
            except (StorageError, TimeoutError) as exc:
                storage_ok = False
                detail = exc.message if isinstance(exc, StorageError) else "no answer in time"
                reasons.append(f"storage: {detail}")
        return HealthReport(store_ok, storage_ok, "; ".join(reasons) or None)
