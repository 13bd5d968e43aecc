"""Plain descriptions of objects: what a HEAD tells, and what a write produced."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The longest object key S3 accepts, in bytes of UTF-8.
MAX_KEY_BYTES = 1024


def strip_etag(etag: str | None) -> str | None:
    """An etag without the surrounding quotes (and a weak ``W/`` prefix) servers add."""
    if etag is None:
        return None
    value = etag.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def version_or_none(version: object) -> str | None:
    """A version id, or None for the ``"null"``/empty one an unversioned bucket answers."""
    return None if version in (None, "", "null") else str(version)


def quote_etag(etag: str) -> str:
    """An etag in the quoted form ``If-Match`` expects."""
    return f'"{strip_etag(etag)}"'


@dataclass(frozen=True)
class ObjectInfo:
    """An object's identity and size, pinned for the duration of an execution."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None = None
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    """A committed output object."""

    bucket: str
    key: str
    etag: str | None
    size: int
    parts: int
    version_id: str | None = None
