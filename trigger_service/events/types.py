"""What a parsed storage notification is made of: object events and ignored records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Most records one notification body may hold; more is treated as malformed.
MAX_RECORDS = 1000
#: Longest object key S3 and OBS accept, in bytes of UTF-8.
#: How many envelopes (SNS, SMN, CloudEvents) may wrap the notification itself.
MAX_ENVELOPE_DEPTH = 3

#: Values of :attr:`ObjectEvent.source`.
SOURCES = ("aws", "minio", "ceph", "obs", "obs-functiongraph", "cloudevents")

#: Reasons of :class:`IgnoredRecord`.
REASON_TEST_EVENT = "test_event"
REASON_SUBSCRIPTION = "subscription_message"
REASON_NOT_OBJECT_EVENT = "not_object_event"


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    """One object-level event, the same whichever store or envelope it came from.

    ``key`` is decoded (the object's real name), ``etag`` has no surrounding quotes,
    ``event_name`` has no ``s3:`` prefix (``ObjectCreated:Put``), ``event_time`` is UTC.
    ``source`` is one of :data:`SOURCES` (LocalStack and moto report as ``"aws"``).
    """

    bucket: str
    key: str
    size: int | None
    etag: str | None
    version_id: str | None
    event_name: str
    sequencer: str | None
    event_time: datetime | None
    source: str


@dataclass(frozen=True, slots=True)
class IgnoredRecord:
    """A well-formed message or record that starts nothing, and why."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class ParsedNotification:
    """The object events of one notification body, in order, and what was ignored."""

    events: tuple[ObjectEvent, ...] = ()
    ignored: tuple[IgnoredRecord, ...] = ()
