"""Choosing the execution store from a URL (``--store``, ``BUCKETSTREAM_STORE``)."""

from __future__ import annotations

from pathlib import Path

from trigger_service.errors import InvalidRequest
from trigger_service.store.protocol import ExecutionStore
from trigger_service.store.sqlite import SQLiteExecutionStore

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite://"


def store_from_url(url: str | Path | None) -> ExecutionStore:
    """The (unopened) store ``url`` names.

    ``None`` or ``:memory:`` → a private SQLite database in memory; a path or
    ``sqlite:///path`` → a SQLite file; ``postgresql://user:pass@host:port/db`` → PostgreSQL.
    """
    if url is None or str(url) in {":memory:", "sqlite://", "sqlite:///:memory:"}:
        return SQLiteExecutionStore(None)
    text = str(url)
    if text.startswith(_POSTGRES_SCHEMES):
        from trigger_service.store.postgres import PostgresExecutionStore

        return PostgresExecutionStore(text)
    if text.startswith(_SQLITE_SCHEME):
        path = text.removeprefix(_SQLITE_SCHEME)
        if not path.startswith("/"):
            raise InvalidRequest(
                f"store URL {text!r}: write sqlite:///relative.db or sqlite:////absolute.db"
            )
        return SQLiteExecutionStore(path[1:])
    if "://" in text:
        raise InvalidRequest(
            f"store URL {text.split('://')[0]}://… is not supported; "
            "use a file path, sqlite:///PATH or postgresql://user:pass@host:port/db"
        )
    return SQLiteExecutionStore(text)


async def open_store(url: str | Path | None) -> ExecutionStore:
    """The store ``url`` names, opened (schema migrated); see :func:`store_from_url`."""
    store = store_from_url(url)
    await store.open()
    return store
