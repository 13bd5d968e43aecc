"""The SQLite execution store: idempotent create, save, newest-first pages, recovery query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from trigger_service.errors import ExecutionNotFound, InvalidCursor
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.store.protocol import decode_cursor, encode_cursor
from trigger_service.store.sqlite import SQLiteExecutionStore

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def store() -> AsyncIterator[SQLiteExecutionStore]:
    store = SQLiteExecutionStore()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _record(
    key: str = "a.bin",
    *,
    workflow: str = "w",
    idempotency_key: str | None = None,
    created_at: datetime = T0,
    status: ExecutionStatus = ExecutionStatus.QUEUED,
) -> ExecutionRecord:
    return ExecutionRecord(
        workflow=workflow,
        input=ObjectRef(bucket="b", key=key, etag="e"),
        idempotency_key=idempotency_key,
        created_at=created_at,
        status=status,
    )


async def test_create_then_get_round_trips(store: SQLiteExecutionStore) -> None:
    record = _record()
    stored, created = await store.create(record)
    assert created and stored is record
    assert await store.get(record.id) == record


async def test_duplicate_idempotency_key_returns_the_existing_record(
    store: SQLiteExecutionStore,
) -> None:
    first, created = await store.create(_record(idempotency_key="k"))
    second, created_again = await store.create(_record(idempotency_key="k"))
    assert created and not created_again
    assert second.id == first.id
    page = await store.list_executions()
    assert [r.id for r in page.executions] == [first.id]


async def test_records_without_key_never_collide(store: SQLiteExecutionStore) -> None:
    for _ in range(3):
        _, created = await store.create(_record())
        assert created
    assert len((await store.list_executions()).executions) == 3


async def test_concurrent_creates_with_one_key_make_one_record(
    store: SQLiteExecutionStore,
) -> None:
    results: list[tuple[ExecutionRecord, bool]] = []

    async def create() -> None:
        results.append(await store.create(_record(idempotency_key="same")))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(create)
    assert sum(created for _, created in results) == 1
    assert len({record.id for record, _ in results}) == 1


async def test_save_replaces_status_steps_and_upload(store: SQLiteExecutionStore) -> None:
    record = _record()
    await store.create(record)
    record.status = ExecutionStatus.RUNNING
    record.attempts = 1
    record.upload_id = "upload-1"
    await store.save(record)
    loaded = await store.get(record.id)
    assert loaded.status is ExecutionStatus.RUNNING
    assert loaded.upload_id == "upload-1"
    assert loaded.attempts == 1


async def test_unknown_ids_raise_not_found(store: SQLiteExecutionStore) -> None:
    with pytest.raises(ExecutionNotFound):
        await store.get("nope")
    with pytest.raises(ExecutionNotFound):
        await store.save(_record())


async def test_list_is_newest_first_with_cursor_pages(store: SQLiteExecutionStore) -> None:
    records = [_record(f"k{i}", created_at=T0 + timedelta(seconds=i)) for i in range(7)]
    for record in records:
        await store.create(record)
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_executions(limit=3, cursor=cursor)
        seen += [r.input.key for r in page.executions]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"k{i}" for i in reversed(range(7))]


async def test_same_timestamp_pages_do_not_skip_or_repeat(store: SQLiteExecutionStore) -> None:
    for i in range(5):
        await store.create(_record(f"k{i}"))
    first = await store.list_executions(limit=2)
    second = await store.list_executions(limit=2, cursor=first.next_cursor)
    third = await store.list_executions(limit=2, cursor=second.next_cursor)
    keys = [r.input.key for p in (first, second, third) for r in p.executions]
    assert keys == ["k4", "k3", "k2", "k1", "k0"]
    assert third.next_cursor is None


async def test_list_filters_by_status_and_workflow(store: SQLiteExecutionStore) -> None:
    await store.create(_record("a", workflow="w1", status=ExecutionStatus.SUCCEEDED))
    await store.create(_record("b", workflow="w1", status=ExecutionStatus.FAILED))
    await store.create(_record("c", workflow="w2", status=ExecutionStatus.FAILED))
    failed = await store.list_executions(status=ExecutionStatus.FAILED)
    assert sorted(r.input.key for r in failed.executions) == ["b", "c"]
    both = await store.list_executions(status=ExecutionStatus.FAILED, workflow="w1")
    assert [r.input.key for r in both.executions] == ["b"]


async def test_bad_cursor_is_rejected(store: SQLiteExecutionStore) -> None:
    for bad in ("!!!", "bm90IGpzb24", encode_cursor("x", 1)[:-3]):
        with pytest.raises(InvalidCursor):
            await store.list_executions(cursor=bad)


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor("2026-01-01T00:00:00.000000Z", 42)) == (
        "2026-01-01T00:00:00.000000Z",
        42,
    )


async def test_unfinished_lists_queued_and_running_oldest_first(
    store: SQLiteExecutionStore,
) -> None:
    statuses = [
        ExecutionStatus.RUNNING,
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.QUEUED,
        ExecutionStatus.FAILED,
    ]
    for i, status in enumerate(statuses):
        await store.create(_record(f"k{i}", status=status, created_at=T0 + timedelta(seconds=i)))
    assert [r.input.key for r in await store.unfinished()] == ["k0", "k2"]


async def test_file_store_uses_wal_and_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "executions.db"
    store = SQLiteExecutionStore(path)
    await store.open()
    record = _record(status=ExecutionStatus.RUNNING)
    record.upload_id = "u"
    await store.create(record)
    await store.close()
    assert (tmp_path / "state").is_dir()

    reopened = SQLiteExecutionStore(path)
    await reopened.open()
    try:
        assert (await reopened.get(record.id)).upload_id == "u"
        assert [r.id for r in await reopened.unfinished()] == [record.id]
        mode = await reopened._run(
            lambda: reopened._db().execute("PRAGMA journal_mode").fetchone()[0]
        )
        assert mode == "wal"
    finally:
        await reopened.close()


async def test_every_write_gets_a_higher_change_sequence(store: SQLiteExecutionStore) -> None:
    assert await store.last_change() == 0
    first, second = _record("a"), _record("b")
    await store.create(first)
    await store.create(second)
    first.status = ExecutionStatus.RUNNING
    await store.save(first)
    changes = await store.changes(0)
    assert [(c.record.id, c.sequence) for c in changes] == [(second.id, 2), (first.id, 3)]
    assert changes[1].record.status is ExecutionStatus.RUNNING
    assert await store.last_change() == 3
    assert [c.record.id for c in await store.changes(2)] == [first.id]
    assert await store.changes(3) == []


async def test_changes_of_one_execution_and_in_pages(store: SQLiteExecutionStore) -> None:
    records = [_record(f"k{i}") for i in range(5)]
    for record in records:
        await store.create(record)
    only = await store.changes(0, execution_id=records[3].id)
    assert [(c.record.id, c.sequence) for c in only] == [(records[3].id, 4)]
    page = await store.changes(1, limit=2)
    assert [c.sequence for c in page] == [2, 3]


async def test_a_duplicate_create_writes_no_change(store: SQLiteExecutionStore) -> None:
    await store.create(_record(idempotency_key="k"))
    await store.create(_record(idempotency_key="k"))
    assert await store.last_change() == 1


async def test_two_stores_on_one_file_share_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    one, two = SQLiteExecutionStore(path), SQLiteExecutionStore(path)
    await one.open()
    await two.open()
    try:
        record = _record("x")
        await one.create(record)
        record.status = ExecutionStatus.SUCCEEDED
        await two.save(record)
        await two.create(_record("y"))
        assert [c.sequence for c in await one.changes(0)] == [2, 3]
        assert (await one.changes(0, execution_id=record.id))[0].record.status.final
    finally:
        await one.close()
        await two.close()


async def test_a_database_without_change_sequences_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE executions (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL "
        "UNIQUE, workflow TEXT NOT NULL, status TEXT NOT NULL, idempotency_key TEXT UNIQUE, "
        "attempts INTEGER NOT NULL, upload_id TEXT, created_at TEXT NOT NULL, record TEXT "
        "NOT NULL);"
    )
    old.close()
    store = SQLiteExecutionStore(path)
    await store.open()
    try:
        await store.create(_record("z"))
        assert [c.sequence for c in await store.changes(0)] == [1]
    finally:
        await store.close()
