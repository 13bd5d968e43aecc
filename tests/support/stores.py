"""Execution stores for contract tests: the same database opened by several stores at once.

``open_another`` (parametrised over SQLite and a real PostgreSQL) hands a test a function that
opens one more store on one shared database, as another worker would, and closes them all at
the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from trigger_service.store import ExecutionStore, store_from_url

OpenStore = Callable[[], Awaitable[ExecutionStore]]


@pytest.fixture(params=["sqlite", "postgresql"])
async def open_another(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Opens stores on one database (a SQLite file, or a fresh PostgreSQL database)."""
    url = (
        str(tmp_path / "executions.db")
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    opened: list[ExecutionStore] = []

    async def open_store() -> ExecutionStore:
        store = store_from_url(url)
        await store.open()
        opened.append(store)
        return store

    try:
        yield open_store
    finally:
        for store in opened:
            await store.close()
