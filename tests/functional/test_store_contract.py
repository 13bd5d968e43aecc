"""The execution store contract, run against SQLite and a real PostgreSQL server alike.

Idempotent create (also from many stores at once), conditional saves, newest-first pages with
cursors and filters, leases: renewal, takeover by exactly one worker, the expired-lease sweep.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from tests.support.stores import OpenStore
from trigger_service.errors import ExecutionNotFound, InvalidCursor, LeaseLost
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.store import ExecutionStore, store_from_url
from trigger_service.store.protocol import decode_cursor, encode_cursor
from trigger_service.store.sqlite import SQLiteExecutionStore

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
async def store(open_another: OpenStore) -> ExecutionStore:
    return await open_another()


def _record(
    key: str = "a.bin",
    *,
    workflow: str = "w",
    idempotency_key: str | None = None,
    created_at: datetime = T0,
    status: ExecutionStatus = ExecutionStatus.QUEUED,
    worker: str | None = None,
    source: str = "api",
) -> ExecutionRecord:
    return ExecutionRecord(
        workflow=workflow,
        input=ObjectRef(bucket="b", key=key, etag="e"),
        idempotency_key=idempotency_key,
        created_at=created_at,
        status=status,
        worker=worker,
        source=source,
    )


async def test_create_then_get_round_trips(store: ExecutionStore) -> None:
    record = _record()
    stored, created = await store.create(record)
    assert created and stored is record
    assert (await store.get(record.id)).model_dump() == record.model_dump()


async def test_duplicate_idempotency_key_returns_the_existing_record(
    store: ExecutionStore,
) -> None:
    first, created = await store.create(_record(idempotency_key="k"))
    second, created_again = await store.create(_record(idempotency_key="k"))
    assert created and not created_again
    assert second.id == first.id
    page = await store.list_executions()
    assert [r.id for r in page.executions] == [first.id]


async def test_records_without_key_never_collide(store: ExecutionStore) -> None:
    for _ in range(3):
        _, created = await store.create(_record())
        assert created
    assert len((await store.list_executions()).executions) == 3


async def test_concurrent_creates_with_one_key_make_one_record(
    open_another: OpenStore,
) -> None:
    stores = [await open_another() for _ in range(3)]  # three workers on one database
    results: list[tuple[ExecutionRecord, bool]] = []

    async def create(store: ExecutionStore) -> None:
        results.append(await store.create(_record(idempotency_key="same")))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for i in range(21):
                group.start_soon(create, stores[i % 3])
    assert sum(created for _, created in results) == 1
    assert len({record.id for record, _ in results}) == 1


async def test_save_replaces_status_steps_and_upload(store: ExecutionStore) -> None:
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


async def test_unknown_ids_raise_not_found(store: ExecutionStore) -> None:
    with pytest.raises(ExecutionNotFound):
        await store.get("nope")
    with pytest.raises(ExecutionNotFound):
        await store.save(_record())


async def test_list_is_newest_first_with_cursor_pages(store: ExecutionStore) -> None:
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


async def test_same_timestamp_pages_do_not_skip_or_repeat(store: ExecutionStore) -> None:
    for i in range(5):
        await store.create(_record(f"k{i}"))
    first = await store.list_executions(limit=2)
    second = await store.list_executions(limit=2, cursor=first.next_cursor)
    third = await store.list_executions(limit=2, cursor=second.next_cursor)
    keys = [r.input.key for p in (first, second, third) for r in p.executions]
    assert keys == ["k4", "k3", "k2", "k1", "k0"]
    assert third.next_cursor is None


async def test_list_filters_by_status_and_workflow(store: ExecutionStore) -> None:
    await store.create(_record("a", workflow="w1", status=ExecutionStatus.SUCCEEDED))
    await store.create(_record("b", workflow="w1", status=ExecutionStatus.FAILED))
    await store.create(_record("c", workflow="w2", status=ExecutionStatus.FAILED))
    failed = await store.list_executions(status=ExecutionStatus.FAILED)
    assert sorted(r.input.key for r in failed.executions) == ["b", "c"]
    both = await store.list_executions(status=ExecutionStatus.FAILED, workflow="w1")
    assert [r.input.key for r in both.executions] == ["b"]


async def test_bad_cursor_is_rejected(store: ExecutionStore) -> None:
    for bad in ("!!!", "bm90IGpzb24", encode_cursor("x", 1)[:-3]):
        with pytest.raises(InvalidCursor):
            await store.list_executions(cursor=bad)


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor("2026-01-01T00:00:00.000000Z", 42)) == (
        "2026-01-01T00:00:00.000000Z",
        42,
    )


async def test_only_the_owner_may_save_a_held_record(store: ExecutionStore) -> None:
    record, _ = await store.create(_record(worker="w1"), lease_seconds=30)
    assert record.lease_expires_at is not None
    record.status = ExecutionStatus.RUNNING
    await store.save(record, lease_seconds=30)
    intruder = record.model_copy(update={"worker": "w2"})
    with pytest.raises(LeaseLost):
        await store.save(intruder)
    loaded = await store.get(record.id)
    assert loaded.worker == "w1" and loaded.status is ExecutionStatus.RUNNING
    record.status = ExecutionStatus.SUCCEEDED
    await store.save(record)
    done = await store.get(record.id)
    assert done.worker == "w1" and done.lease_expires_at is None


async def test_an_unowned_record_is_claimed_by_its_first_save(store: ExecutionStore) -> None:
    record, _ = await store.create(_record())
    record.worker = "w1"
    await store.save(record, lease_seconds=30)
    loaded = await store.get(record.id)
    assert loaded.worker == "w1" and loaded.lease_expires_at is not None


async def test_renew_extends_only_the_workers_unfinished_leases(store: ExecutionStore) -> None:
    mine, _ = await store.create(_record("a", worker="w1"), lease_seconds=1)
    theirs, _ = await store.create(_record("b", worker="w2"), lease_seconds=1)
    finished, _ = await store.create(
        _record("c", worker="w1", status=ExecutionStatus.SUCCEEDED), lease_seconds=1
    )
    held = await store.renew("w1", [mine.id, theirs.id, finished.id, "unknown"], 60)
    assert held == {mine.id}
    renewed = await store.get(mine.id)
    assert renewed.lease_expires_at is not None
    assert renewed.lease_expires_at > datetime.now(UTC) + timedelta(seconds=30)
    assert await store.renew("w1", [], 60) == set()


async def test_a_live_lease_cannot_be_taken_over(store: ExecutionStore) -> None:
    record, _ = await store.create(_record(worker="w1"), lease_seconds=30)
    assert await store.take_over(record.id, "w2", 30) is None
    assert await store.claim_expired("w2", 30) == []


async def test_an_expired_lease_is_taken_over_once_with_its_upload_id(
    open_another: OpenStore,
) -> None:
    first = await open_another()
    record, _ = await first.create(_record(worker="dead"), lease_seconds=0.2)
    record.status = ExecutionStatus.RUNNING
    record.upload_id = "upload-of-the-dead"
    await first.save(record)
    await anyio.sleep(0.4)
    stores = [first, await open_another(), await open_another()]
    winners: list[tuple[str, ExecutionRecord]] = []

    async def race(worker: str, store: ExecutionStore) -> None:
        taken = await store.take_over(record.id, worker, 30)
        if taken is not None:
            winners.append((worker, taken))

    async with anyio.create_task_group() as group:
        for i in range(12):
            group.start_soon(race, f"w{i}", stores[i % 3])
    assert len(winners) == 1
    worker, taken = winners[0]
    assert taken.worker == worker and taken.upload_id == "upload-of-the-dead"
    assert taken.status is ExecutionStatus.RUNNING
    with pytest.raises(LeaseLost):
        await first.save(record)  # the old owner, back from the dead, may not write


async def test_a_failed_record_is_rerun_by_one_worker(store: ExecutionStore) -> None:
    record, _ = await store.create(_record(worker="w1", status=ExecutionStatus.FAILED))
    assert await store.take_over(record.id, "w2", 30) is None
    first = await store.take_over(record.id, "w2", 30, rerun_failed=True)
    second = await store.take_over(record.id, "w3", 30, rerun_failed=True)
    assert first is not None and second is None
    assert first.status is ExecutionStatus.QUEUED and first.worker == "w2"


async def test_claim_expired_takes_each_expired_record_once_oldest_first(
    open_another: OpenStore,
) -> None:
    store = await open_another()
    expired = []
    for i in range(6):
        record, _ = await store.create(
            _record(f"k{i}", worker="dead", created_at=T0 + timedelta(seconds=i)),
            lease_seconds=0.1,
        )
        expired.append(record.id)
    await store.create(_record("live", worker="alive"), lease_seconds=60)
    await store.create(_record("sqs", worker="dead", source="sqs"), lease_seconds=0.1)
    await store.create(_record("done", status=ExecutionStatus.SUCCEEDED, worker="dead"))
    await anyio.sleep(0.3)
    other = await open_another()
    claims: dict[str, list[ExecutionRecord]] = {}

    async def sweep(worker: str, on: ExecutionStore) -> None:
        claims[worker] = await on.claim_expired(worker, 30, limit=4, sqs_grace=60)

    async with anyio.create_task_group() as group:
        group.start_soon(sweep, "a", store)
        group.start_soon(sweep, "b", other)
    ids = [r.id for records in claims.values() for r in records]
    assert sorted(ids) == sorted(expired)
    for worker, records in claims.items():
        assert all(r.worker == worker for r in records)
        created = [r.created_at for r in records]
        assert created == sorted(created)
    assert await store.claim_expired("c", 30) != []  # sqs ones too once their grace is over


async def test_open_upload_ids_are_those_of_unfinished_records(store: ExecutionStore) -> None:
    running, _ = await store.create(_record("a", status=ExecutionStatus.RUNNING))
    running.upload_id = "u1"
    await store.save(running)
    done, _ = await store.create(_record("b", status=ExecutionStatus.FAILED))
    done.upload_id = "u2"
    await store.save(done)
    fan_out, _ = await store.create(_record("c", status=ExecutionStatus.RUNNING))
    fan_out.upload_ids = {"thumb": "u3", "page": "u4"}
    await store.save(fan_out)
    finished, _ = await store.create(_record("d", status=ExecutionStatus.SUCCEEDED))
    finished.upload_ids = {"thumb": "u5"}
    await store.save(finished)
    assert await store.open_upload_ids() == {"u1", "u3", "u4"}


async def test_records_show_worker_and_attempts_in_their_json(store: ExecutionStore) -> None:
    record, _ = await store.create(_record(worker="w1"), lease_seconds=30)
    public = (await store.get(record.id)).public()
    assert public["worker"] == "w1" and public["attempts"] == 0
    assert json.dumps(public)


async def test_ping_answers(store: ExecutionStore) -> None:
    await store.ping()


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
        mode = await reopened._run(
            lambda: reopened._db().execute("PRAGMA journal_mode").fetchone()[0]
        )
        assert mode == "wal"
    finally:
        await reopened.close()


async def test_an_older_sqlite_file_is_migrated_and_its_running_records_recovered(
    tmp_path: Path,
) -> None:
    import sqlite3

    from trigger_service.store.migrations import migrations

    path = tmp_path / "old.db"
    legacy = _record("old", status=ExecutionStatus.RUNNING, source="sqs")
    legacy.upload_id = "u"
    with sqlite3.connect(path) as db:
        db.executescript(migrations("sqlite")[0].sql)
        db.execute(
            "INSERT INTO executions (id, workflow, status, idempotency_key, attempts, "
            "upload_id, created_at, record) VALUES (?, 'w', 'running', NULL, 1, 'u', ?, ?)",
            (legacy.id, "2026-01-01T00:00:00.000000Z", legacy.model_dump_json()),
        )
    store = SQLiteExecutionStore(path)
    await store.open()
    try:
        claimed = await store.claim_expired("new", 30)
        assert [r.id for r in claimed] == [legacy.id]
        assert claimed[0].upload_id == "u" and claimed[0].worker == "new"
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        (None, "sqlite", ":memory:"),
        ("state/x.db", "sqlite", "state/x.db"),
        ("sqlite:///rel.db", "sqlite", "rel.db"),
        ("sqlite:////abs/x.db", "sqlite", "/abs/x.db"),
        ("postgresql://u:p@db:5432/x", "postgresql", None),
    ],
)
def test_store_urls_pick_the_store(url: str | None, kind: str, path: str | None) -> None:
    store = store_from_url(url)
    assert store.kind == kind
    if path is not None:
        assert isinstance(store, SQLiteExecutionStore) and store.path == path


def test_unknown_store_url_schemes_are_refused() -> None:
    from trigger_service.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="mysql"):
        store_from_url("mysql://x")


async def test_workers_starting_together_migrate_once(open_another: OpenStore) -> None:
    stores: list[ExecutionStore] = []

    async def start() -> None:
        stores.append(await open_another())

    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            for _ in range(4):
                group.start_soon(start)
    record, created = await stores[0].create(_record(idempotency_key="k"))
    assert created
    for store in stores[1:]:
        assert (await store.get(record.id)).id == record.id
    if store.kind == "postgresql":
        from trigger_service.store.migrations import migrations
        from trigger_service.store.postgres import PostgresExecutionStore

        assert isinstance(store, PostgresExecutionStore)
        rows = await store._fetch("SELECT version FROM schema_migrations ORDER BY version", {})
        assert [row[0] for row in rows] == [m.version for m in migrations("postgresql")]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db.internal:6543/events", "postgresql://db.internal:6543/events"),
        ("postgresql://app:s3cret@/events?host=/run/pg", "postgresql:///events?host=/run/pg"),
    ],
)
def test_store_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    from trigger_service.store.postgres import describe

    assert describe(url) == shown


async def test_an_unreachable_postgresql_fails_the_start_with_a_clear_error() -> None:
    from trigger_service.errors import StoreUnavailable
    from trigger_service.store.postgres import PostgresExecutionStore

    store = PostgresExecutionStore("postgresql://app:s3cret@127.0.0.1:9/nothing", timeout=1)
    with pytest.raises(StoreUnavailable, match="cannot connect") as caught:
        await store.open()
    assert "s3cret" not in caught.value.message
