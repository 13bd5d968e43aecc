"""Record changes, polled from the execution store and fanned out to live subscribers.

One :class:`ChangeFeed` per service polls :meth:`ExecutionStore.changes` every ``interval``
seconds, so the live streams show what every worker sharing the store does, not only this
process. While nobody listens it only follows the store's highest sequence (one cheap query),
never reading records.

A :class:`Subscription` keeps the latest change of each execution it has not sent yet (a newer
change of the same execution replaces the older one), so a slow client gets fewer, fresher
events, never an ever-growing backlog. Past :data:`MAX_PENDING` distinct executions it is
*lagged*: its stream ends, and the client resumes from its ``Last-Event-ID`` with a catch-up
read of the store. A subscriber that goes away is forgotten at once. At most
``max_subscribers`` are open at once: one more is refused with
:class:`~trigger_service.errors.TooManyStreams` (``503`` with ``Retry-After``), so open
streams cannot grow the service's memory or its polling work without bound.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import anyio
from anyio.abc import TaskStatus

from trigger_service.errors import TooManyStreams
from trigger_service.execution.admission import DEFAULT_MAX_STREAMS
from trigger_service.records import ExecutionStatus
from trigger_service.store.protocol import DEFAULT_CHANGES, ExecutionStore, RecordChange

logger = logging.getLogger(__name__)

#: Seconds between two polls of the store (and so the shortest time between two events).
DEFAULT_INTERVAL = 0.25
#: Distinct executions a subscriber may have waiting before it is cut off as lagged.
MAX_PENDING = 1000
#: Seconds a refused subscriber is told to wait (``Retry-After``).
STREAMS_RETRY_AFTER = 10


@dataclass(frozen=True)
class ChangeFilter:
    """Which changes a subscriber wants; None matches everything."""

    execution_id: str | None = None
    workflow: str | None = None
    status: ExecutionStatus | None = None

    def matches(self, change: RecordChange) -> bool:
        """Whether ``change`` passes every condition."""
        record = change.record
        return (
            (self.execution_id is None or record.id == self.execution_id)
            and (self.workflow is None or record.workflow == self.workflow)
            and (self.status is None or record.status is self.status)
        )


class Subscription:
    """Changes waiting for one client, newest state per execution, oldest change first."""

    def __init__(self, changes: ChangeFilter, after: int) -> None:
        self.filter = changes
        #: The highest sequence handed out; nothing at or below it is handed out again.
        self.sent = after
        self.lagged = False
        self._pending: dict[str, RecordChange] = {}
        self._ready = anyio.Event()

    def offer(self, change: RecordChange) -> None:
        """Queue ``change`` if it matches and is newer than what was sent."""
        if change.sequence <= self.sent or not self.filter.matches(change):
            return
        self._pending.pop(change.record.id, None)
        self._pending[change.record.id] = change
        if len(self._pending) > MAX_PENDING:
            self.lagged = True
            self._pending.clear()
        self._ready.set()

    def take(self) -> Iterator[RecordChange]:
        """The waiting changes in sequence order, each marked sent as it is taken."""
        pending = sorted(self._pending.values(), key=lambda change: change.sequence)
        self._pending.clear()
        self._ready = anyio.Event()
        for change in pending:
            if change.sequence > self.sent:
                self.sent = change.sequence
                yield change

    async def wait(self) -> None:
        """Until a change is waiting (or the subscription lagged)."""
        await self._ready.wait()


class ChangeFeed:
    """Polls the store for changed records and offers them to every subscription."""

    def __init__(
        self,
        store: ExecutionStore,
        *,
        interval: float = DEFAULT_INTERVAL,
        batch: int = DEFAULT_CHANGES,
        max_subscribers: int = DEFAULT_MAX_STREAMS,
    ) -> None:
        self.store = store
        self.interval = interval
        self.batch = batch
        self.max_subscribers = max_subscribers
        self._cursor = 0
        self._subscriptions: set[Subscription] = set()
        self._started = anyio.Event()

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Poll until cancelled."""
        while True:
            try:
                self._cursor = await self.store.last_change()
                break
            except Exception:
                logger.exception("could not read the store's latest change; trying again")
                await anyio.sleep(self.interval)
        self._started.set()
        task_status.started()
        while True:
            await anyio.sleep(self.interval)
            try:
                await self.poll()
            except Exception:
                logger.exception("could not read changed executions from the store")

    async def started(self) -> None:
        """Until :meth:`run` has read where the store stands."""
        await self._started.wait()

    async def poll(self) -> None:
        """Offer every change since the last poll (only follow the sequence when idle)."""
        if not self._subscriptions:
            latest = await self.store.last_change()
            # A subscription opened during the await must still get the rows up to latest.
            if not self._subscriptions:
                self._cursor = max(self._cursor, latest)
                return
        while True:
            changes = await self.store.changes(self._cursor, limit=self.batch)
            for change in changes:
                for subscription in tuple(self._subscriptions):
                    subscription.offer(change)
                self._cursor = max(self._cursor, change.sequence)
            if len(changes) < self.batch:
                return

    async def subscribe(self, changes: ChangeFilter, *, after: int | None) -> Subscription:
        """A subscription to changes after sequence ``after`` (None: from now on).

        With ``after`` the store is read for what changed since (in pages), so a client
        resuming with ``Last-Event-ID`` misses nothing; close it with :meth:`unsubscribe`.
        Raises :class:`TooManyStreams` when ``max_subscribers`` are open already.
        """
        if len(self._subscriptions) >= self.max_subscribers:
            raise TooManyStreams(
                f"{self.max_subscribers} live streams are open, the most this service serves "
                f"(service.max_streams); try again in {STREAMS_RETRY_AFTER} s",
                retry_after=STREAMS_RETRY_AFTER,
            )
        start = self._cursor if after is None else after
        subscription = Subscription(changes, start)
        # Registered before the catch-up read, so nothing written meanwhile is missed.
        self._subscriptions.add(subscription)
        try:
            if after is not None:
                await self._catch_up(subscription, start)
        except BaseException:
            self.unsubscribe(subscription)
            raise
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget ``subscription``; nothing more is queued for it."""
        self._subscriptions.discard(subscription)

    async def _catch_up(self, subscription: Subscription, after: int) -> None:
        cursor = after
        while not subscription.lagged:
            changes = await self.store.changes(
                cursor, limit=self.batch, execution_id=subscription.filter.execution_id
            )
            for change in changes:
                subscription.offer(change)
            if len(changes) < self.batch:
                return
            cursor = changes[-1].sequence
