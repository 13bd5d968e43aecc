"""The shared execution store: PostgreSQL through an async psycopg 3 connection pool.

Several workers (on several machines) use one database. Every change that decides who owns
an execution is one statement: ``INSERT … ON CONFLICT (idempotency_key) DO NOTHING`` for a new
event, a conditional ``UPDATE … RETURNING`` for saves and takeovers (PostgreSQL re-checks the
condition on the newest row version, so of two workers only one matches), and
``FOR UPDATE SKIP LOCKED`` for the expired-lease sweep (two sweeping workers split the work
instead of waiting on each other). Lease times come from the database's clock, so workers'
clocks never need to agree.

Every write that changes a record takes a new change sequence (``nextval`` of
``execution_change_seq``) while its statement holds the one row of ``execution_changes``
(:data:`_GATE`): writers take numbers one statement at a time, each after the previous one
committed, so a poller of :meth:`PostgresExecutionStore.changes` never sees ``n + 1`` before
``n`` (a bare sequence would let a later number commit first). Lease renewals change no
record and take no number.

The schema is migrated at :meth:`PostgresExecutionStore.open` under a session advisory lock:
workers starting at the same moment apply each migration once. Connection failures surface
as :class:`~trigger_service.errors.StoreUnavailable`; the pool checks a connection before
lending it, so once PostgreSQL is back the next call works.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, PoolTimeout

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

#: Key of the advisory lock held while migrating ("bucketstream" as a number).
MIGRATION_LOCK = 0x6275636B6574
#: Connections one worker keeps at most (size PostgreSQL's max_connections for N workers).
DEFAULT_POOL_SIZE = 4

_COLUMNS = "record::text, status, worker, lease_expires_at, created_at, seq"
_LEASE = "clock_timestamp() + make_interval(secs => %(lease)s)"
#: Serialises record-changing writes until they commit (see the module docstring).
_GATE = "WITH gate AS (UPDATE execution_changes SET writes = writes + 1 RETURNING writes) "
_NEXT_CHANGE = "nextval('execution_change_seq')"
_FAILED = ExecutionStatus.FAILED.value
_QUEUED = ExecutionStatus.QUEUED.value


def _load(row: tuple[Any, ...]) -> ExecutionRecord:
    record = ExecutionRecord.model_validate_json(row[0])
    record.status = ExecutionStatus(row[1])
    record.worker = row[2]
    record.lease_expires_at = row[3]
    return record


def describe(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    host, database = str(parts.get("host") or "localhost"), parts.get("dbname") or ""
    if host.startswith("/"):  # a unix socket directory
        return f"postgresql:///{database}?host={host}"
    return f"postgresql://{host}:{parts.get('port') or 5432}/{database}"


class PostgresExecutionStore:
    """An :class:`~trigger_service.store.protocol.ExecutionStore` in PostgreSQL."""

    kind = "postgresql"

    def __init__(
        self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE, timeout: float = 5.0
    ) -> None:
        self.url = url
        self.pool_size = pool_size
        self.timeout = timeout
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        """Connect, then apply pending migrations under the advisory lock."""
        pool = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            open=False,
            timeout=self.timeout,
            kwargs={"autocommit": True, "connect_timeout": max(int(self.timeout), 1)},
            check=AsyncConnectionPool.check_connection,
            name="bucketstream-store",
        )
        try:
            await pool.open(wait=True, timeout=self.timeout)
        except PoolTimeout:
            await pool.close()
            raise StoreUnavailable(
                f"cannot connect to the execution store {describe(self.url)} "
                f"within {self.timeout:g} s; is PostgreSQL running and the URL right?"
            ) from None
        self._pool = pool
        try:
            await self._migrate()
        except BaseException:
            await self.close()
            raise

    async def _migrate(self) -> None:
        async with self._connection() as conn:
            await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                cursor = await conn.execute(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations"
                )
                row = await cursor.fetchone()
                applied = int(row[0]) if row is not None else 0
                for migration in migrations("postgresql"):
                    if migration.version <= applied:
                        continue
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (migration.version, migration.name),
                        )
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    async def close(self) -> None:
        """Close the pool; the store cannot be used afterwards."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def ping(self) -> None:
        """One round trip; raises StoreUnavailable when PostgreSQL cannot answer."""
        await self._fetch("SELECT 1", {})

    async def create(
        self, record: ExecutionRecord, *, lease_seconds: float | None = None
    ) -> tuple[ExecutionRecord, bool]:
        """Insert ``record`` unless its idempotency key is taken; see the protocol."""
        leased = lease_seconds is not None and record.worker is not None
        rows = await self._fetch(
            f"{_GATE}INSERT INTO executions (id, workflow, status, source, idempotency_key, "
            "attempts, upload_id, worker, lease_expires_at, created_at, record, change_seq) "
            "SELECT %(id)s, %(workflow)s, %(status)s, %(source)s, %(key)s, %(attempts)s, "
            f"%(upload)s, %(worker)s, CASE WHEN %(leased)s THEN {_LEASE} END, %(created)s, "
            f"%(record)s::jsonb, {_NEXT_CHANGE} FROM gate "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING lease_expires_at",
            {
                "id": record.id,
                "workflow": record.workflow,
                "status": record.status.value,
                "source": record.source,
                "key": record.idempotency_key,
                "attempts": record.attempts,
                "upload": record.upload_id,
                "worker": record.worker,
                "leased": leased,
                "lease": float(lease_seconds or 0),
                "created": created_at_text(record),
                "record": record.model_dump_json(),
            },
        )
        if rows:
            record.lease_expires_at = rows[0][0]
            return record, True
        existing = await self._fetch(
            f"SELECT {_COLUMNS} FROM executions WHERE idempotency_key = %(key)s",
            {"key": record.idempotency_key},
        )
        return _load(existing[0]), False

    async def save(self, record: ExecutionRecord, *, lease_seconds: float | None = None) -> None:
        """Replace the stored copy of ``record`` if its worker may; see the protocol."""
        final = record.status.value in FINAL
        rows = await self._fetch(
            f"{_GATE}UPDATE executions SET status = %(status)s, attempts = %(attempts)s, "
            "upload_id = %(upload)s, worker = %(worker)s, record = %(record)s::jsonb, "
            f"change_seq = {_NEXT_CHANGE}, lease_expires_at = CASE WHEN %(final)s THEN NULL "
            f"WHEN %(renew)s THEN {_LEASE} ELSE lease_expires_at END FROM gate "
            "WHERE id = %(id)s AND (worker IS NULL OR worker = %(worker)s) RETURNING seq",
            {
                "status": record.status.value,
                "attempts": record.attempts,
                "upload": record.upload_id,
                "worker": record.worker,
                "record": record.model_dump_json(),
                "final": final,
                "renew": lease_seconds is not None,
                "lease": float(lease_seconds or 0),
                "id": record.id,
            },
        )
        if rows:
            return
        owner = await self._fetch(
            "SELECT worker FROM executions WHERE id = %(id)s", {"id": record.id}
        )
        if not owner:
            raise ExecutionNotFound(f"no execution {record.id!r}")
        raise LeaseLost(f"execution {record.id} is now held by worker {owner[0][0]!r}")

    async def renew(self, worker: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        """Extend ``worker``'s leases on ``ids``; returns the ids it still holds."""
        if not ids:
            return set()
        rows = await self._fetch(
            f"UPDATE executions SET lease_expires_at = {_LEASE} WHERE worker = %(worker)s "
            "AND status = ANY(%(unfinished)s) AND id = ANY(%(ids)s) RETURNING id",
            {
                "lease": float(lease_seconds),
                "worker": worker,
                "unfinished": list(UNFINISHED),
                "ids": list(ids),
            },
        )
        return {row[0] for row in rows}

    async def take_over(
        self,
        execution_id: str,
        worker: str,
        lease_seconds: float,
        *,
        rerun_failed: bool = False,
    ) -> ExecutionRecord | None:
        """Hand an expired (or, asked, a failed) record to ``worker``; one caller wins."""
        rows = await self._fetch(
            f"{_GATE}UPDATE executions SET worker = %(worker)s, lease_expires_at = {_LEASE}, "
            f"change_seq = {_NEXT_CHANGE}, "
            "status = CASE WHEN status = %(failed)s THEN %(queued)s ELSE status END FROM gate "
            "WHERE id = %(id)s AND ((status = ANY(%(unfinished)s) "
            "AND coalesce(lease_expires_at, '-infinity') < clock_timestamp()) "
            f"OR (%(rerun)s AND status = %(failed)s)) RETURNING {_COLUMNS}",
            {
                "worker": worker,
                "lease": float(lease_seconds),
                "failed": _FAILED,
                "queued": _QUEUED,
                "id": execution_id,
                "unfinished": list(UNFINISHED),
                "rerun": rerun_failed,
            },
        )
        return _load(rows[0]) if rows else None

    async def claim_expired(
        self, worker: str, lease_seconds: float, *, limit: int = 100, sqs_grace: float = 0.0
    ) -> list[ExecutionRecord]:
        """Take over up to ``limit`` records whose lease expired; see the protocol."""
        rows = await self._fetch(
            f"{_GATE}UPDATE executions SET worker = %(worker)s, lease_expires_at = {_LEASE}, "
            f"change_seq = {_NEXT_CHANGE} FROM gate "
            "WHERE id IN (SELECT id FROM executions WHERE status = ANY(%(unfinished)s) "
            "AND coalesce(lease_expires_at, '-infinity') < clock_timestamp() - CASE "
            "WHEN source = 'sqs' THEN make_interval(secs => %(grace)s) ELSE interval '0' END "
            "ORDER BY created_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
            f"RETURNING {_COLUMNS}",
            {
                "worker": worker,
                "lease": float(lease_seconds),
                "unfinished": list(UNFINISHED),
                "grace": float(sqs_grace),
                "limit": limit,
            },
        )
        rows.sort(key=lambda row: (row[4], row[5]))
        return [_load(row) for row in rows]

    async def open_upload_ids(self) -> set[str]:
        """The upload ids unfinished records hold (a fan-out's ``upload_ids`` too)."""
        rows = await self._fetch(
            "SELECT upload_id FROM executions WHERE status = ANY(%(unfinished)s) "
            "AND upload_id IS NOT NULL "
            "UNION SELECT upload.value FROM executions, "
            "jsonb_each_text(COALESCE(record->'upload_ids', '{}'::jsonb)) AS upload "
            "WHERE status = ANY(%(unfinished)s)",
            {"unfinished": list(UNFINISHED)},
        )
        return {row[0] for row in rows}

    async def unfinished_for_input(
        self, workflow: str, bucket: str, key: str
    ) -> list[ExecutionRecord]:
        """Queued or running records of ``workflow`` on ``s3://bucket/key``."""
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM executions WHERE workflow = %(workflow)s "
            "AND status = ANY(%(unfinished)s) AND record->'input'->>'bucket' = %(bucket)s "
            "AND record->'input'->>'key' = %(key)s",
            {"workflow": workflow, "unfinished": list(UNFINISHED), "bucket": bucket, "key": key},
        )
        return [_load(row) for row in rows]

    async def get(self, execution_id: str) -> ExecutionRecord:
        """The record of ``execution_id``; raises ExecutionNotFound."""
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM executions WHERE id = %(id)s", {"id": execution_id}
        )
        if not rows:
            raise ExecutionNotFound(f"no execution {execution_id!r}")
        return _load(rows[0])

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
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        if status is not None:
            where.append("status = %(status)s")
            params["status"] = status.value
        if workflow is not None:
            where.append("workflow = %(workflow)s")
            params["workflow"] = workflow
        if after is not None:
            where.append("(created_at, seq) < (%(created)s, %(seq)s)")
            params.update(created=after[0], seq=after[1])
        sql = f"SELECT {_COLUMNS} FROM executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, seq DESC LIMIT %(limit)s"
        rows = await self._fetch(sql, params)
        return page_of(rows, limit, _load)

    async def changes(
        self, after: int, *, limit: int = DEFAULT_CHANGES, execution_id: str | None = None
    ) -> list[RecordChange]:
        """Records last written after sequence ``after``, lowest sequence first."""
        only = " AND id = %(id)s" if execution_id is not None else ""
        rows = await self._fetch(
            f"SELECT {_COLUMNS}, change_seq FROM executions WHERE change_seq > %(after)s{only} "
            "ORDER BY change_seq LIMIT %(limit)s",
            {"after": after, "id": execution_id, "limit": max(1, limit)},
        )
        return [RecordChange(sequence=int(row[6]), record=_load(row)) for row in rows]

    async def last_change(self) -> int:
        """The highest change sequence written so far."""
        rows = await self._fetch("SELECT coalesce(max(change_seq), 0) FROM executions", {})
        return int(rows[0][0])

    async def _fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall() if cursor.description is not None else []

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            raise RuntimeError("the execution store is not open")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout) as exc:
            raise StoreUnavailable(
                f"the execution store {describe(self.url)} is unreachable: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            ) from exc
