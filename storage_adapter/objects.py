"""Plain descriptions of objects: what a HEAD tells, and what a write produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
    #: When this version was written, as the store says (``Last-Modified``, whole seconds).
    last_modified: datetime | None = None


@dataclass(frozen=True)
class WriteResult:
    """A committed output object."""

    bucket: str
    key: str
    etag: str | None
    size: int
    parts: int
    version_id: str | None = None


@dataclass(frozen=True)
class WriteCondition:
    """A conditional write (S3 ``If-Match`` / ``If-None-Match: *``), checked by the store.

    ``if_match`` replaces only the object of that etag; ``if_none_match`` writes only where
    no object exists. A store refusing it answers 412 (:class:`~storage_adapter.errors.
    PreconditionFailed`).
    """

    if_match: str | None = None
    if_none_match: bool = False

    def params(self) -> dict[str, str]:
        """The request parameters of boto3's ``put_object`` / ``complete_multipart_upload``."""
        if self.if_none_match:
            return {"IfNoneMatch": "*"}
        if self.if_match:
            return {"IfMatch": quote_etag(self.if_match)}
        return {}
