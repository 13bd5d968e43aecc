"""The change feed: store changes offered to subscriptions, newest state per execution."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from trigger_service.api import feed as feed_module
from trigger_service.api.feed import ChangeFeed, ChangeFilter
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.store.protocol import RecordChange
from trigger_service.store.sqlite import SQLiteExecutionStore

pytestmark = pytest.mark.anyio


class CountingStore(SQLiteExecutionStore):
    """Counts the record reads of ``changes``."""

    change_reads = 0

    async def changes(
        self, after: int, *, limit: int = 500, execution_id: str | None = None
    ) -> list[RecordChange]:
        self.change_reads += 1
        return await super().changes(after, limit=limit, execution_id=execution_id)


@pytest.fixture
async def store() -> AsyncIterator[CountingStore]:
    store = CountingStore()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _record(key: str, workflow: str = "w") -> ExecutionRecord:
    return ExecutionRecord(workflow=workflow, input=ObjectRef(bucket="b", key=key))


async def test_changes_reach_subscribers_newest_state_once(store: CountingStore) -> None:
    feed = ChangeFeed(store)
    await store.create(_record("before"))
    async with anyio.create_task_group() as group:
        await group.start(feed.run)
        subscription = await feed.subscribe(ChangeFilter(), after=None)
        record = _record("a")
        await store.create(record)
        for status in (ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED):
            record.status = status
            await store.save(record)
        await feed.poll()
        taken = list(subscription.take())
        assert [(c.record.input.key, c.record.status) for c in taken] == [
            ("a", ExecutionStatus.SUCCEEDED)
        ]
        await feed.poll()
        assert list(subscription.take()) == []
        group.cancel_scope.cancel()


async def test_filters_by_workflow_status_and_execution(store: CountingStore) -> None:
    feed = ChangeFeed(store)
    one, two = _record("one", "photos"), _record("two", "archive")
    async with anyio.create_task_group() as group:
        await group.start(feed.run)
        photos = await feed.subscribe(ChangeFilter(workflow="photos"), after=None)
        failed = await feed.subscribe(ChangeFilter(status=ExecutionStatus.FAILED), after=None)
        by_id = await feed.subscribe(ChangeFilter(execution_id=two.id), after=None)
        await store.create(one)
        await store.create(two)
        two.status = ExecutionStatus.FAILED
        await store.save(two)
        await feed.poll()
        assert [c.record.id for c in photos.take()] == [one.id]
        assert [c.record.id for c in failed.take()] == [two.id]
        assert [c.record.status for c in by_id.take()] == [ExecutionStatus.FAILED]
        group.cancel_scope.cancel()


async def test_resuming_after_an_id_catches_up_without_repeats(store: CountingStore) -> None:
    feed = ChangeFeed(store)
    records = [_record(f"k{i}") for i in range(4)]
    for record in records:
        await store.create(record)
    async with anyio.create_task_group() as group:
        await group.start(feed.run)
        subscription = await feed.subscribe(ChangeFilter(), after=2)
        assert [c.sequence for c in subscription.take()] == [3, 4]
        await store.save(records[0])  # sequence 5
        await feed.poll()
        assert [(c.sequence, c.record.id) for c in subscription.take()] == [(5, records[0].id)]
        group.cancel_scope.cancel()


async def test_a_slow_subscriber_is_cut_off_as_lagged(
    store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_module, "MAX_PENDING", 3)
    feed = ChangeFeed(store, batch=2)
    async with anyio.create_task_group() as group:
        await group.start(feed.run)
        subscription = await feed.subscribe(ChangeFilter(), after=None)
        for i in range(5):
            await store.create(_record(f"k{i}"))
        await feed.poll()
        assert subscription.lagged
        with anyio.fail_after(1):
            await subscription.wait()
        group.cancel_scope.cancel()


async def test_an_idle_feed_reads_no_records_and_forgets_leavers(store: CountingStore) -> None:
    feed = ChangeFeed(store)
    async with anyio.create_task_group() as group:
        await group.start(feed.run)
        await store.create(_record("a"))
        await feed.poll()
        assert store.change_reads == 0
        subscription = await feed.subscribe(ChangeFilter(), after=None)
        assert feed.subscribers == 1
        feed.unsubscribe(subscription)
        assert feed.subscribers == 0
        await store.create(_record("b"))
        await feed.poll()
        assert store.change_reads == 0
        assert list(subscription.take()) == []
        group.cancel_scope.cancel()


async def test_the_feed_polls_by_itself(store: CountingStore) -> None:
    feed = ChangeFeed(store, interval=0.01)
    async with anyio.create_task_group() as group:
        await group.start(feed.run)
        subscription = await feed.subscribe(ChangeFilter(), after=None)
        await store.create(_record("a"))
        with anyio.fail_after(5):
            await subscription.wait()
        assert [c.record.input.key for c in subscription.take()] == ["a"]
        group.cancel_scope.cancel()
