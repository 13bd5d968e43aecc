"""Where execution records live: a small protocol, pages, and opaque list cursors.

The service talks to an :class:`ExecutionStore`: :mod:`trigger_service.store.sqlite` (one
machine) or :mod:`trigger_service.store.postgres` (several workers). A store keeps the record
JSON plus the columns the service queries: the idempotency key (unique), status, workflow,
source, attempts, the open multipart upload id, the owning worker and its lease, and
``created_at``, by which listings are ordered newest first.

Every write that changes a record (``create``, ``save``, ``take_over``, ``claim_expired``;
not a lease renewal) also stamps the row with a new **change sequence**, a number that grows
with every such write to the store (across every process sharing it). ``changes``
returns the rows written after a sequence, oldest change first: the live streams
(:mod:`trigger_service.api.live`) poll it, so they show what every worker does, not only the
local process. An implementation must never let a reader see sequence ``n + 1`` before ``n``
is visible (commit order = sequence order), or a poller would skip ``n`` for good: SQLite gets
it from its single writer; PostgreSQL from a one-row gate table every such statement updates
(which serialises the writers until they commit), where a plain ``SEQUENCE`` would not.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol

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
    """Persistent execution records; every method is safe to call from the event loop.

    Leases: an unfinished record may name a ``worker`` holding it until ``lease_expires_at``
    (computed by the store from its own clock). Only that worker may save the record; once the
    lease has expired (an unfinished record without a lease is nobody's), :meth:`take_over`
    or :meth:`claim_expired` hands it to another worker, exactly one of any that try. A store
    that cannot be reached raises :class:`~trigger_service.errors.StoreUnavailable`.
    """

    #: Short name for logs and ``/healthz`` (``sqlite``, ``postgresql``).
    kind: str

    async def open(self) -> None:
        """Create or migrate the schema; must be called once before anything else."""
        ...

    async def close(self) -> None:
        """Release the store's resources."""
        ...

    async def ping(self) -> None:
        """One round trip; raises :class:`StoreUnavailable` when the store cannot answer."""
        ...

    async def create(
        self, record: ExecutionRecord, *, lease_seconds: float | None = None
    ) -> tuple[ExecutionRecord, bool]:
        """Insert ``record``, unless one with its idempotency key exists.

        With ``lease_seconds`` the new record is held by ``record.worker`` for that long.
        Returns ``(stored, created)``: the new record and True, or the existing one and False.
        """
        ...

    async def save(self, record: ExecutionRecord, *, lease_seconds: float | None = None) -> None:
        """Replace the stored record of ``record.id`` (status, steps, upload id...).

        Allowed when the stored record has no worker or ``record.worker``; otherwise raises
        :class:`LeaseLost`. ``lease_seconds`` renews the lease too; a final status ends it.
        """
        ...

    async def renew(self, worker: str, ids: Sequence[str], lease_seconds: float) -> set[str]:
        """Extend ``worker``'s leases on ``ids``; returns the ids it still holds."""
        ...

    async def take_over(
        self,
        execution_id: str,
        worker: str,
        lease_seconds: float,
        *,
        rerun_failed: bool = False,
    ) -> ExecutionRecord | None:
        """Hand an unfinished record whose lease expired (or a failed one with
        ``rerun_failed``) to ``worker``; one caller wins, the others get None.

        The record is returned as its previous owner left it (its upload id included).
        """
        ...

    async def claim_expired(
        self, worker: str, lease_seconds: float, *, limit: int = 100, sqs_grace: float = 0.0
    ) -> list[ExecutionRecord]:
        """Take over up to ``limit`` unfinished records whose lease expired, oldest first.

        Records from SQS are left alone until their lease expired ``sqs_grace`` seconds ago
        (their redelivered message normally leads to a takeover first).
        """
        ...

    async def open_upload_ids(self) -> set[str]:
        """The multipart upload ids unfinished records hold (uploads a live worker may own)."""
        ...

    async def unfinished_for_input(
        self, workflow: str, bucket: str, key: str
    ) -> list[ExecutionRecord]:
        """Queued or running records of ``workflow`` on ``s3://bucket/key`` (any version)."""
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


UNFINISHED = (ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value)
FINAL = (ExecutionStatus.SUCCEEDED.value, ExecutionStatus.FAILED.value)


def created_at_text(record: ExecutionRecord) -> str:
    """A fixed-width UTC timestamp of ``record.created_at``, so text order is time order."""
    return record.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def page_window(limit: int, cursor: str | None) -> tuple[int, tuple[str, int] | None]:
    """The page size clamped to ``1..MAX_PAGE_SIZE``, and the row the cursor points after."""
    after = decode_cursor(cursor) if cursor is not None else None
    return max(1, min(limit, MAX_PAGE_SIZE)), after


def page_of(
    rows: Sequence[Sequence[Any]], limit: int, load: Callable[[Any], ExecutionRecord]
) -> ExecutionPage:
    """A page of the first ``limit`` rows, fetched as ``limit + 1`` (the extra one means more).

    Each row ends its listed columns with ``created_at`` and ``seq`` (indexes 4 and 5), which
    the next cursor points after.
    """
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1][4], page[-1][5]) if len(rows) > limit else None
    return ExecutionPage([load(row) for row in page], next_cursor)
