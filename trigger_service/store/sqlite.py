"""The default execution store: one SQLite database, one connection, calls off the event loop.

Every call runs in a worker thread, one at a time (a capacity limiter of one plus a lock around
the connection), so the event loop never waits on disk. A file database uses WAL journaling
(readers do not block the writer; a crash loses nothing committed). ``path=None`` gives a
private in-memory database, handy for tests and for the embedded demo.

Writes run in ``BEGIN IMMEDIATE`` transactions that stamp the row with ``MAX(change_seq) + 1``:
the write lock is taken before the maximum is read, so processes sharing one file get distinct,
increasing sequences, committed in sequence order (what ``changes`` pollers rely on).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import anyio

from trigger_service.errors import ExecutionNotFound
from trigger_service.records import ExecutionRecord, ExecutionStatus
from trigger_service.store.protocol import (
    DEFAULT_CHANGES,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ExecutionPage,
    RecordChange,
    decode_cursor,
    encode_cursor,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    attempts INTEGER NOT NULL,
    upload_id TEXT,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL,
    change_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS executions_by_created ON executions (created_at, seq);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status, created_at, seq);
CREATE INDEX IF NOT EXISTS executions_by_workflow ON executions (workflow, created_at, seq);
"""

#: Databases made before change sequences existed get the column, then its index.
_CHANGES_COLUMN = "ALTER TABLE executions ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0"
_CHANGES_INDEX = "CREATE INDEX IF NOT EXISTS executions_by_change ON executions (change_seq)"
_NEXT_CHANGE = "(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM executions)"

_UNFINISHED = (ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value)


def _created_at(record: ExecutionRecord) -> str:
    """A fixed-width UTC timestamp, so text order is time order."""
    return record.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _load(row: sqlite3.Row | tuple[Any, ...]) -> ExecutionRecord:
    return ExecutionRecord.model_validate_json(row[0])


class SQLiteExecutionStore:
    """An :class:`~trigger_service.store.protocol.ExecutionStore` in SQLite (file or memory)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = ":memory:" if path is None else str(path)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None

    async def open(self) -> None:
        """Open the database and create the schema (WAL for files)."""
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
        connection.executescript(_SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(executions)")}
        if "change_seq" not in columns:
            connection.execute(_CHANGES_COLUMN)
        connection.execute(_CHANGES_INDEX)
        self._connection = connection

    async def close(self) -> None:
        """Close the connection; the store cannot be used afterwards."""
        if self._connection is not None and self._limiter is not None:
            await self._run(self._close)

    def _close(self) -> None:
        assert self._connection is not None
        self._connection.close()
        self._connection = None

    async def create(self, record: ExecutionRecord) -> tuple[ExecutionRecord, bool]:
        """Insert ``record`` unless its idempotency key is taken; see the protocol."""
        return await self._run(self._create, record, record.model_dump_json())

    def _create(self, record: ExecutionRecord, document: str) -> tuple[ExecutionRecord, bool]:
        with self._write() as db:
            return self._insert(db, record, document)

    def _insert(
        self, db: sqlite3.Connection, record: ExecutionRecord, document: str
    ) -> tuple[ExecutionRecord, bool]:
        cursor = db.execute(
            "INSERT INTO executions (id, workflow, status, idempotency_key, attempts, "
            "upload_id, created_at, record, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            f"{_NEXT_CHANGE}) ON CONFLICT (idempotency_key) DO NOTHING",
            (
                record.id,
                record.workflow,
                record.status.value,
                record.idempotency_key,
                record.attempts,
                record.upload_id,
                _created_at(record),
                document,
            ),
        )
        if cursor.rowcount == 1:
            return record, True
        row = db.execute(
            "SELECT record FROM executions WHERE idempotency_key = ?", (record.idempotency_key,)
        ).fetchone()
        return _load(row), False

    async def save(self, record: ExecutionRecord) -> None:
        """Replace the stored copy of ``record``; raises ExecutionNotFound if absent."""
        # Serialised here, on the event loop, so the engine cannot change it mid-way.
        row = (
            record.status.value,
            record.attempts,
            record.upload_id,
            record.model_dump_json(),
            record.id,
        )
        await self._run(self._save, row)

    def _save(self, row: tuple[str, int, str | None, str, str]) -> None:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE executions SET status = ?, attempts = ?, upload_id = ?, record = ?, "
                f"change_seq = {_NEXT_CHANGE} WHERE id = ?",
                row,
            )
        if cursor.rowcount != 1:
            raise ExecutionNotFound(f"no execution {row[-1]!r}")

    async def get(self, execution_id: str) -> ExecutionRecord:
        """The record of ``execution_id``; raises ExecutionNotFound."""
        return await self._run(self._get, execution_id)

    def _get(self, execution_id: str) -> ExecutionRecord:
        row = (
            self._db()
            .execute("SELECT record FROM executions WHERE id = ?", (execution_id,))
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
        after = decode_cursor(cursor) if cursor is not None else None
        limit = max(1, min(limit, MAX_PAGE_SIZE))
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
        sql = "SELECT record, created_at, seq FROM executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, seq DESC LIMIT ?"
        rows = self._db().execute(sql, (*params, limit + 1)).fetchall()
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1][1], page[-1][2]) if len(rows) > limit else None
        return ExecutionPage([_load(row) for row in page], next_cursor)

    async def unfinished(self) -> list[ExecutionRecord]:
        """Every queued or running record, oldest first."""
        return await self._run(self._unfinished)

    def _unfinished(self) -> list[ExecutionRecord]:
        rows = (
            self._db()
            .execute(
                "SELECT record FROM executions WHERE status IN (?, ?) ORDER BY created_at, seq",
                _UNFINISHED,
            )
            .fetchall()
        )
        return [_load(row) for row in rows]

    async def changes(
        self, after: int, *, limit: int = DEFAULT_CHANGES, execution_id: str | None = None
    ) -> list[RecordChange]:
        """Records last written after sequence ``after``, lowest sequence first."""
        return await self._run(self._changes, after, max(1, limit), execution_id)

    def _changes(self, after: int, limit: int, execution_id: str | None) -> list[RecordChange]:
        sql = "SELECT record, change_seq FROM executions WHERE change_seq > ?"
        params: list[Any] = [after]
        if execution_id is not None:
            sql += " AND id = ?"
            params.append(execution_id)
        rows = self._db().execute(f"{sql} ORDER BY change_seq LIMIT ?", (*params, limit))
        return [RecordChange(sequence=row[1], record=_load(row)) for row in rows.fetchall()]

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
                return function(*args)

        return await anyio.to_thread.run_sync(locked, limiter=self._limiter)
