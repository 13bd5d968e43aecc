"""Change sequences of the execution store (what live streams poll), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.support.stores import OpenStore
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.store import ExecutionStore

pytestmark = pytest.mark.anyio


def _record(key: str, *, worker: str | None = None, key_id: str | None = None) -> ExecutionRecord:
    return ExecutionRecord(
        workflow="w",
        input=ObjectRef(bucket="b", key=key, etag="e"),
        worker=worker,
        idempotency_key=key_id,
    )


async def test_every_record_change_gets_a_higher_sequence(open_another: OpenStore) -> None:
    store = await open_another()
    assert await store.last_change() == 0
    first, second = _record("a"), _record("b")
    await store.create(first)
    await store.create(second)
    first.status = ExecutionStatus.RUNNING
    await store.save(first)
    changes = await store.changes(0)
    assert [c.record.id for c in changes] == [second.id, first.id]
    assert changes[1].record.status is ExecutionStatus.RUNNING
    sequences = [c.sequence for c in changes]
    assert sequences == sorted(set(sequences)) and sequences[-1] == await store.last_change()
    assert [c.record.id for c in await store.changes(sequences[0])] == [first.id]
    assert await store.changes(sequences[-1]) == []
    only = await store.changes(0, execution_id=second.id)
    assert [(c.record.id, c.sequence) for c in only] == [(second.id, sequences[0])]
    assert [c.sequence for c in await store.changes(0, limit=1)] == sequences[:1]


async def test_duplicates_and_renewals_change_nothing(open_another: OpenStore) -> None:
    store = await open_another()
    record = _record("k", worker="w1", key_id="k")
    await store.create(record, lease_seconds=30)
    before = await store.last_change()
    await store.create(_record("k", worker="w1", key_id="k"), lease_seconds=30)
    await store.renew("w1", [record.id], 30)
    assert await store.last_change() == before


async def test_takeovers_and_claims_are_changes(open_another: OpenStore) -> None:
    store = await open_another()
    held = [_record(f"k{i}", worker="gone") for i in range(3)]
    for record in held:
        await store.create(record, lease_seconds=0.01)
    await anyio.sleep(0.05)
    before = await store.last_change()
    claimed = await store.claim_expired("new", 30)
    assert len(claimed) == 3
    changes = await store.changes(before)
    assert sorted(c.record.id for c in changes) == sorted(r.id for r in held)
    assert all(c.record.worker == "new" for c in changes)
    assert len({c.sequence for c in changes}) == 3, "each claimed record has its own number"
    failed = held[0]
    failed.status, failed.worker = ExecutionStatus.FAILED, "new"
    await store.save(failed)
    mark = await store.last_change()
    assert await store.take_over(failed.id, "other", 30, rerun_failed=True) is not None
    (rerun,) = await store.changes(mark)
    assert rerun.record.status is ExecutionStatus.QUEUED and rerun.record.worker == "other"


async def test_stores_sharing_a_database_share_one_sequence(open_another: OpenStore) -> None:
    one, two = await open_another(), await open_another()
    records = [_record(f"r{i}") for i in range(20)]

    async def write(store: ExecutionStore, part: list[ExecutionRecord]) -> None:
        for record in part:
            await store.create(record)
            record.status = ExecutionStatus.RUNNING
            await store.save(record)

    async with anyio.create_task_group() as group:
        group.start_soon(write, one, records[::2])
        group.start_soon(write, two, records[1::2])
    changes = await one.changes(0)
    assert sorted(c.record.id for c in changes) == sorted(r.id for r in records)
    assert all(c.record.status is ExecutionStatus.RUNNING for c in changes)
    assert len({c.sequence for c in changes}) == len(records)
    assert await two.last_change() == max(c.sequence for c in changes)


async def test_an_upgraded_database_starts_numbering_its_old_records_at_zero(
    tmp_path: Path,
) -> None:
    import sqlite3

    from trigger_service.store.migrations import migrations
    from trigger_service.store.sqlite import SQLiteExecutionStore

    path = tmp_path / "old.db"
    old = _record("old")
    with sqlite3.connect(path) as db:
        db.executescript(migrations("sqlite")[0].sql)
        db.execute(
            "INSERT INTO executions (id, workflow, status, idempotency_key, attempts, "
            "upload_id, created_at, record) VALUES (?, 'w', 'queued', NULL, 0, NULL, ?, ?)",
            (old.id, "2026-01-01T00:00:00.000000Z", old.model_dump_json()),
        )
    store = SQLiteExecutionStore(path)
    await store.open()
    try:
        assert await store.last_change() == 0
        new = _record("new")
        await store.create(new)
        assert [c.record.id for c in await store.changes(0)] == [new.id]
    finally:
        await store.close()
