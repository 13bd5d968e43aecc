"""Numbered SQL migrations shipped with the package, one directory per database.

``NNNN_name.sql`` files are applied in order, each once; a store records the last applied
number (SQLite ``PRAGMA user_version``, PostgreSQL table ``schema_migrations``).
"""

from trigger_service.store.migrations.files import Migration, migrations

__all__ = ["Migration", "migrations"]
