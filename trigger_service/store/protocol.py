"""Where execution records live: a small protocol, pages, and opaque list cursors.

The service talks to an :class:`ExecutionStore`; :mod:`trigger_service.store.sqlite` is the
default implementation. A store keeps the record JSON plus the columns the service queries:
the idempotency key (unique), status, workflow, attempts, the open multipart upload id and
``created_at``, by which listings are ordered newest first.

Every ``create`` and ``save`` also stamps the row with a new **change sequence**, a number
that grows with every write to the store (across every process sharing it). ``changes``
returns the rows written after a sequence, oldest change first: the live streams
(:mod:`trigger_service.api.live`) poll it, so they show what every worker does, not only the
local process. An implementation must never let a reader see sequence ``n + 1`` before ``n``
is visible (commit order = sequence order), or a poller would skip ``n`` for good: SQLite gets
it from its single writer; a PostgreSQL store can take the number from a one-row counter
updated in the writing transaction (``UPDATE … SET seq = seq + 1 RETURNING seq``, which
serialises the writers' commits), where a plain ``SEQUENCE`` would not.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from trigger_service.errors import InvalidCursor
from trigger_service.records import ExecutionRecord, ExecutionStatus

#: Largest page ``list`` returns, whatever ``limit`` asks for.
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
#: How many changes one ``changes`` call returns by default.
DEFAULT_CHANGES = 500


@dataclass(frozen=True)
class ExecutionPage:
    """One page of a listing, newest first; ``next_cursor`` is None on the last page."""

    executions: Sequence[ExecutionRecord]
    next_cursor: str | None


@dataclass(frozen=True)
class RecordChange:
    """A record as last written, with the change sequence of that write."""

    sequence: int
    record: ExecutionRecord


class ExecutionStore(Protocol):
    """Persistent execution records; every method is safe to call from the event loop."""

    async def open(self) -> None:
        """Create the schema if needed; must be called once before anything else."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...

    async def create(self, record: ExecutionRecord) -> tuple[ExecutionRecord, bool]:
        """Insert ``record``, unless one with its idempotency key exists.

        Returns ``(stored, created)``: the new record and True, or the existing one and False.
        """
        ...

    async def save(self, record: ExecutionRecord) -> None:
        """Replace the stored record of ``record.id`` (status, steps, upload id...)."""
        ...

    async def get(self, execution_id: str) -> ExecutionRecord:
        """The record of ``execution_id``; raises :class:`ExecutionNotFound`."""
        ...

    async def list_executions(
        self,
        *,
        status: ExecutionStatus | None = None,
        workflow: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> ExecutionPage:
        """Records newest first, filtered; raises :class:`InvalidCursor`."""
        ...

    async def unfinished(self) -> list[ExecutionRecord]:
        """Every ``queued`` or ``running`` record, oldest first (for recovery at start)."""
        ...

    async def changes(
        self, after: int, *, limit: int = DEFAULT_CHANGES, execution_id: str | None = None
    ) -> list[RecordChange]:
        """Records whose last write has a sequence above ``after``, lowest sequence first.

        At most ``limit`` of them; only ``execution_id``'s when given (``after=0`` then reads
        one record with its sequence). A record written twice since ``after`` appears once.
        """
        ...

    async def last_change(self) -> int:
        """The highest change sequence written so far (0 for an empty store)."""
        ...


def encode_cursor(created_at: str, sequence: int) -> str:
    """An opaque cursor pointing after the row ``(created_at, sequence)``."""
    raw = json.dumps([created_at, sequence], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """The ``(created_at, sequence)`` of a cursor; raises :class:`InvalidCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, sequence = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not one this service returned") from None
    if not isinstance(created_at, str) or not isinstance(sequence, int):
        raise InvalidCursor(f"cursor {cursor[:40]!r} is not one this service returned")
    return created_at, sequence
