"""The default execution store: one SQLite database, one connection, calls off the event loop.

Every call runs in a worker thread, one at a time (a capacity limiter of one plus a lock around
the connection), so the event loop never waits on disk. A file database uses WAL journaling
(readers do not block the writer; a crash loses nothing committed). ``path=None`` gives a
private in-memory database, handy for tests and for the embedded demo.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import anyio

from trigger_service.errors import ExecutionNotFound
from trigger_service.records import ExecutionRecord, ExecutionStatus
from trigger_service.store.protocol import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ExecutionPage,
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
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_created ON executions (created_at, seq);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions (status, created_at, seq);
CREATE INDEX IF NOT EXISTS executions_by_workflow ON executions (workflow, created_at, seq);
"""

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
        db = self._db()
        cursor = db.execute(
            "INSERT INTO executions "
            "(id, workflow, status, idempotency_key, attempts, upload_id, created_at, record) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
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
        cursor = self._db().execute(
            "UPDATE executions SET status = ?, attempts = ?, upload_id = ?, record = ? "
            "WHERE id = ?",
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
