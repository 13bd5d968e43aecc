"""The single-machine execution store: one SQLite database, one connection, calls off the loop.

Every call runs in a worker thread, one at a time (a capacity limiter of one plus a lock around
the connection), so the event loop never waits on disk. A file database uses WAL journaling
(readers do not block the writer; a crash loses nothing committed) and may be shared by
several workers on one machine: every lease change is one conditional statement. Lease times
are seconds since the epoch from this machine's clock. ``path=None`` gives a private in-memory
database, handy for tests and for the embedded demo.

Every write that changes a record stamps it with ``MAX(change_seq) + 1`` in the same statement
(a writing statement holds the database's write lock from its start, so processes sharing the
file get distinct, increasing numbers, committed in that order); a claim of several records
numbers them one by one inside one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio

from trigger_service.errors import ExecutionNotFound, LeaseLost, StoreUnavailable
from trigger_service.records import ExecutionRecord, ExecutionStatus
from trigger_service.store.migrations import migrations
from trigger_service.store.protocol import (
    DEFAULT_CHANGES,
    DEFAULT_PAGE_SIZE,
    FINAL,
    UNFINISHED,
    ExecutionPage,
    RecordChange,
    created_at_text,
    page_of,
    page_window,
)

T = TypeVar("T")

#: The columns every read selects, in the order :func:`_load` expects.
_COLUMNS = "record, status, worker, lease_expires_at, created_at, seq"
#: Largest ``IN (...)`` list of one statement.
_BATCH = 500
#: The next change sequence, evaluated inside the writing statement.
_NEXT_CHANGE = "(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM executions)"


def _load(row: sqlite3.Row | tuple[Any, ...]) -> ExecutionRecord:
    record = ExecutionRecord.model_validate_json(row[0])
    record.status = ExecutionStatus(row[1])
    record.worker = row[2]
    record.lease_expires_at = None if row[3] is None else datetime.fromtimestamp(row[3], UTC)
    return record


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


class SQLiteExecutionStore:
    """An :class:`~trigger_service.store.protocol.ExecutionStore` in SQLite (file or memory)."""

    kind = "sqlite"

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = ":memory:" if path is None else str(path)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None

    async def open(self) -> None:
        """Open the database and apply the pending migrations (WAL for files)."""
        self._limiter = anyio.CapacityLimiter(1)
        await self._run(self._open)

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10
        )
        if self.path != ":memory:":
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        # BEGIN IMMEDIATE takes the write lock first: two workers starting on one file
        # apply each migration once.
        connection.execute("BEGIN IMMEDIATE")
        try:
            applied = connection.execute("PRAGMA user_version").fetchone()[0]
            for migration in migrations("sqlite"):
                if migration.version > applied:
                    for statement in _statements(migration.sql):
                        connection.execute(statement)
                    connection.execute(f"PRAGMA user_version = {migration.version:d}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            connection.close()
            raise
        self._connection = connection

    async def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        if self._connection is not None and self._limiter is not None:
            await self._run(self._close)

    def _close(self) -> None:
        assert self._connection is not None
        self._connection.close()
        self._connection = None

    async def ping(self) -> None:
        """One query; raises StoreUnavailable when the database cannot answer."""
        await self._run(lambda: self._db().execute("SELECT 1").fetchone())

    async def create(
        self, record: ExecutionRecord, *, lease_seconds: float | None = None
    ) -> tuple[ExecutionRecord, bool]:
        """Insert ``record`` unless its idempotency key is taken; see the protocol."""
        if lease_seconds is not None and record.worker is not None:
            record.lease_expires_at = datetime.fromtimestamp(time.time() + lease_seconds, UTC)
        return await self._run(self._create, record, record.model_dump_json())

    def _create(self, record: ExecutionRecord, document: str) -> tuple[ExecutionRecord, bool]:
        db = self._db()
        lease = record.lease_expires_at
        cursor = db.execute(
            "INSERT INTO executions (id, workflow, status, source, idempotency_key, attempts, "
            "upload_id, worker, lease_expires_at, created_at, record, change_seq) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {_NEXT_CHANGE}) "
            "ON CONFLICT (idempotency_key) DO NOTHING",
            (
                record.id,
                record.workflow,
                record.status.value,
                record.source,
                record.idempotency_key,
                record.attempts,
                record.upload_id,
                record.worker,
                None if lease is None else lease.timestamp(),
                created_at_text(record),
                document,
            ),
        )
        if cursor.rowcount == 1:
            return record, True
        row = db.execute(
            f"SELECT {_COLUMNS} FROM executions WHERE idempotency_key = ?",
            (record.idempotency_key,),
        ).fetchone()
        return _load(row), False

    async def save(self, record: ExecutionRecord, *, lease_seconds: float | None = None) -> None:
        """Replace the stored copy of ``record`` if its worker may; see the protocol."""
        # Serialised here, on the event loop, so the engine cannot change it mid-way.
        final = record.status.value in FINAL
        lease = None if lease_seconds is None or final else time.time() + lease_seconds
        row = (
            record.status.value,
            record.attempts,
            record.upload_id,
            record.worker,
            record.model_dump_json(),
            final,
            lease,
            lease,
            record.id,
            record.worker,
        )
        await self._run(self._save, row)

    def _save(self, row: tuple[Any, ...]) -> None:
        db = self._db()
        cursor = db.execute(
            "UPDATE executions SET status = ?, attempts = ?, upload_id = ?, worker = ?, "
            f"record = ?, change_seq = {_NEXT_CHANGE}, lease_expires_at = CASE WHEN ? THEN NULL "
            "WHEN ? IS NOT NULL THEN ? ELSE lease_expires_at END "
            "WHERE id = ? AND (worker IS NULL OR worker = ?)",
            row,
        )
        if cursor.rowcount == 1:
            return
        owner = db.execute("SELECT worker FROM executions WHERE id = ?", (row[-2],)).fetchone()
        if owner is None:
            raise ExecutionNotFound(f"no execution {row[-2]!r}")
        raise LeaseLost(f"execution {row[-2]} is now held by worker {owner[0]!r}")

    async def renew(self, worker: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        """Extend ``worker``'s leases on ``ids``; returns the ids it still holds."""
        return await self._run(self._renew, worker, list(ids), time.time() + lease_seconds)

    def _renew(self, worker: str, ids: list[str], until: float) -> set[str]:
        held: set[str] = set()
        for start in range(0, len(ids), _BATCH):
            batch = ids[start : start + _BATCH]
            marks = ", ".join("?" * len(batch))
            rows = self._db().execute(
                f"UPDATE executions SET lease_expires_at = ? WHERE worker = ? "
                f"AND status IN (?, ?) AND id IN ({marks}) RETURNING id",
                (until, worker, *UNFINISHED, *batch),
            )
            held.update(row[0] for row in rows.fetchall())
        return held

    async def take_over(
        self,
        execution_id: str,
        worker: str,
        lease_seconds: float,
        *,
        rerun_failed: bool = False,
    ) -> ExecutionRecord | None:
        """Hand an expired (or, asked, a failed) record to ``worker``; one caller wins."""
        now = time.time()
        return await self._run(
            self._take_over, execution_id, worker, now, lease_seconds, rerun_failed
        )

    def _take_over(
        self, execution_id: str, worker: str, now: float, lease_seconds: float, rerun: bool
    ) -> ExecutionRecord | None:
        failed, queued = ExecutionStatus.FAILED.value, ExecutionStatus.QUEUED.value
        until = now + lease_seconds
        params = (worker, until, failed, queued, execution_id, *UNFINISHED, now, rerun, failed)
        row = (
            self._db()
            .execute(
                f"UPDATE executions SET worker = ?, lease_expires_at = ?, "
                f"change_seq = {_NEXT_CHANGE}, "
                f"status = CASE WHEN status = ? THEN ? ELSE status END "
                f"WHERE id = ? AND ((status IN (?, ?) AND coalesce(lease_expires_at, 0) < ?) "
                f"OR (? AND status = ?)) RETURNING {_COLUMNS}",
                params,
            )
            .fetchone()
        )
        return None if row is None else _load(row)

    async def claim_expired(
        self, worker: str, lease_seconds: float, *, limit: int = 100, sqs_grace: float = 0.0
    ) -> list[ExecutionRecord]:
        """Take over up to ``limit`` records whose lease expired; see the protocol."""
        return await self._run(self._claim_expired, worker, lease_seconds, limit, sqs_grace)

    def _claim_expired(
        self, worker: str, lease_seconds: float, limit: int, sqs_grace: float
    ) -> list[ExecutionRecord]:
        now = time.time()
        with self._write() as db:
            rows = db.execute(
                f"UPDATE executions SET worker = ?, lease_expires_at = ? WHERE id IN "
                f"(SELECT id FROM executions WHERE status IN (?, ?) "
                f"AND coalesce(lease_expires_at, 0) < ? "
                f"AND (source != 'sqs' OR coalesce(lease_expires_at, 0) < ?) "
                f"ORDER BY created_at, seq "
                f"LIMIT ?) RETURNING {_COLUMNS}",
                (worker, now + lease_seconds, *UNFINISHED, now, now - sqs_grace, limit),
            ).fetchall()
            rows.sort(key=lambda row: (row[4], row[5]))
            for row in rows:  # one number each, in the same transaction
                db.execute(
                    f"UPDATE executions SET change_seq = {_NEXT_CHANGE} WHERE seq = ?", (row[5],)
                )
        return [_load(row) for row in rows]

    async def open_upload_ids(self) -> set[str]:
        """The upload ids unfinished records hold."""
        return await self._run(self._open_upload_ids)

    def _open_upload_ids(self) -> set[str]:
        rows = self._db().execute(
            "SELECT upload_id FROM executions WHERE status IN (?, ?) AND upload_id IS NOT NULL "
            "UNION SELECT upload.value FROM executions, "
            "json_each(json_extract(executions.record, '$.upload_ids')) AS upload "
            "WHERE executions.status IN (?, ?)",
            (*UNFINISHED, *UNFINISHED),
        )
        return {row[0] for row in rows.fetchall()}

    async def unfinished_for_input(
        self, workflow: str, bucket: str, key: str
    ) -> list[ExecutionRecord]:
        """Queued or running records of ``workflow`` on ``s3://bucket/key``."""
        return await self._run(self._unfinished_for_input, workflow, bucket, key)

    def _unfinished_for_input(self, workflow: str, bucket: str, key: str) -> list[ExecutionRecord]:
        rows = self._db().execute(
            f"SELECT {_COLUMNS} FROM executions WHERE workflow = ? AND status IN (?, ?) "
            "AND json_extract(record, '$.input.bucket') = ? "
            "AND json_extract(record, '$.input.key') = ?",
            (workflow, *UNFINISHED, bucket, key),
        )
        return [_load(row) for row in rows.fetchall()]

    async def get(self, execution_id: str) -> ExecutionRecord:
        """The record of ``execution_id``; raises ExecutionNotFound."""
        return await self._run(self._get, execution_id)

    def _get(self, execution_id: str) -> ExecutionRecord:
        row = (
            self._db()
            .execute(f"SELECT {_COLUMNS} FROM executions WHERE id = ?", (execution_id,))
            .fetchone()
        )
        if row is None:
            raise ExecutionNotFound(f"no execution {execution_id!r}")
        return _load(row)

    async def list_executions(
        self,
        *,
        status: ExecutionStatus | None = None,
        workflow: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """Records newest first, filtered by status and workflow, ``limit`` at a time."""
        limit, after = page_window(limit, cursor)
        return await self._run(self._list, status, workflow, limit, after)

    def _list(
        self,
        status: ExecutionStatus | None,
        workflow: str | None,
        limit: int,
        after: tuple[str, int] | None,
    ) -> ExecutionPage:
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if workflow is not None:
            where.append("workflow = ?")
            params.append(workflow)
        if after is not None:
            where.append("(created_at < ? OR (created_at = ? AND seq < ?))")
            params += [after[0], after[0], after[1]]
        sql = f"SELECT {_COLUMNS} FROM executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, seq DESC LIMIT ?"
        rows = self._db().execute(sql, (*params, limit + 1)).fetchall()
        return page_of(rows, limit, _load)

    async def changes(
        self, after: int, *, limit: int = DEFAULT_CHANGES, execution_id: str | None = None
    ) -> list[RecordChange]:
        """Records last written after sequence ``after``, lowest sequence first."""
        return await self._run(self._changes, after, max(1, limit), execution_id)

    def _changes(self, after: int, limit: int, execution_id: str | None) -> list[RecordChange]:
        sql = f"SELECT {_COLUMNS}, change_seq FROM executions WHERE change_seq > ?"
        params: list[Any] = [after]
        if execution_id is not None:
            sql += " AND id = ?"
            params.append(execution_id)
        rows = self._db().execute(f"{sql} ORDER BY change_seq LIMIT ?", (*params, limit))
        return [RecordChange(sequence=row[6], record=_load(row)) for row in rows.fetchall()]

    async def last_change(self) -> int:
        """The highest change sequence written so far."""
        return await self._run(self._last_change)

    def _last_change(self) -> int:
        row = self._db().execute("SELECT COALESCE(MAX(change_seq), 0) FROM executions")
        return int(row.fetchone()[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its start."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("the execution store is not open")
        return self._connection

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        if self._limiter is None:
            raise RuntimeError("the execution store is not open")

        def locked() -> T:
            with self._lock:
                try:
                    return function(*args)
                except sqlite3.OperationalError as exc:
                    raise StoreUnavailable(f"the SQLite store {self.path} failed: {exc}") from exc

        return await anyio.to_thread.run_sync(locked, limiter=self._limiter)
