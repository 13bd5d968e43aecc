"""Storage notifications, whatever their shape, to :class:`ObjectEvent` values.

Accepted bodies (JSON text, bytes, or an already decoded object):

* ``{"Records": [...]}``: AWS S3 (LocalStack and moto too), Ceph RGW, the FunctionGraph
  OBS trigger, OBS's own notifications (``Records[].obs``);
* MinIO webhooks: ``{"EventName": "s3:...", "Key": "bucket/key", "Records": [...]}``;
* CloudEvents (``specversion``) whose ``data`` is a record, a list of them, or ``Records``;
* any of these inside an SNS or SMN envelope (``{"Type": "Notification", "Message": "..."}``),
  as an SQS queue subscribed to a topic receives them.

Keys come back decoded: ``unquote_plus`` once for every store but Ceph RGW, which sends keys
as they are, and MinIO's top-level ``Key``, which is already decoded. A CloudEvent's
``subject`` is not used: the record in ``data`` is authoritative.

S3 test events and topic subscription messages are returned as ignored, never as errors.
Anything else raises :class:`~trigger_service.errors.MalformedEvent` naming the bad field,
e.g. ``Records[0].s3.object.key: missing``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from trigger_service.events import fields as f
from trigger_service.events.fields import check_object_key
from trigger_service.events.records import is_object_event_name, parse_record
from trigger_service.events.types import (
    MAX_ENVELOPE_DEPTH,
    MAX_RECORDS,
    REASON_NOT_OBJECT_EVENT,
    REASON_SUBSCRIPTION,
    REASON_TEST_EVENT,
    SOURCES,
    IgnoredRecord,
    ObjectEvent,
    ParsedNotification,
)

__all__ = [
    "MAX_RECORDS",
    "REASON_NOT_OBJECT_EVENT",
    "REASON_SUBSCRIPTION",
    "REASON_TEST_EVENT",
    "SOURCES",
    "IgnoredRecord",
    "ObjectEvent",
    "ParsedNotification",
    "check_object_key",
    "parse_notification",
    "parse_sqs_message",
]

#: (type member, message member) of SNS and of Huawei SMN HTTP(S) deliveries.
_ENVELOPES = (("Type", "Message"), ("type", "message"))
_CONFIRMATIONS = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})
_SHAPE_HINT = "expected Records, EventName (MinIO), specversion (CloudEvents) or an SNS envelope"


def parse_notification(body: bytes | str | Mapping[str, Any]) -> ParsedNotification:
    """Parse one notification body into its object events and the records it ignored.

    Raises :class:`~trigger_service.errors.MalformedEvent`, and nothing else, when the body
    is not a notification this module knows, or holds more than :data:`MAX_RECORDS` records.
    """
    return _parse_document(_load(body, ""), "", 0)


def parse_sqs_message(body: bytes | str) -> ParsedNotification:
    """Parse an SQS message body: a notification as S3 sends it, or wrapped by SNS."""
    return parse_notification(body)


def _load(body: object, path: str) -> object:
    if isinstance(body, Mapping):
        return body
    if isinstance(body, bytes | bytearray):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise f.malformed(path, f"not valid UTF-8 (at byte {exc.start})") from None
    if not isinstance(body, str):
        raise f.malformed(path, f"expected JSON text or an object, got {type(body).__name__}")
    try:
        return json.loads(body)
    except RecursionError:
        raise f.malformed(path, "not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise f.malformed(path, f"not valid JSON ({exc})") from None


def _parse_document(value: object, path: str, depth: int) -> ParsedNotification:
    doc = f.mapping(value, path)
    event = doc.get("Event")
    if isinstance(event, str) and event.endswith("TestEvent"):
        where = f" for bucket {f.preview(doc['Bucket'])}" if "Bucket" in doc else ""
        return _ignored(REASON_TEST_EVENT, f"{event}{where}")
    if "EventName" in doc:
        return _parse_minio(doc, path)
    if "Records" in doc:
        return _parse_records(doc["Records"], f.join(path, "Records"))
    if "specversion" in doc:
        return _parse_cloudevent(doc, path)
    enveloped = _parse_envelope(doc, path, depth)
    if enveloped is not None:
        return enveloped
    members = ", ".join(sorted(str(name) for name in doc)[:10]) or "none"
    raise f.malformed(path, f"unknown notification shape, {_SHAPE_HINT} (members: {members})")


def _parse_records(
    value: object,
    path: str,
    *,
    source: str | None = None,
    default_time: datetime | None = None,
) -> ParsedNotification:
    if not isinstance(value, list | tuple):
        raise f.malformed(path, f"expected a list, got {f.kind(value)}")
    if len(value) > MAX_RECORDS:
        raise f.malformed(path, f"{len(value)} records, more than the {MAX_RECORDS} allowed")
    events: list[ObjectEvent] = []
    ignored: list[IgnoredRecord] = []
    for index, record in enumerate(value):
        parsed = parse_record(record, f"{path}[{index}]", source=source, default_time=default_time)
        if isinstance(parsed, ObjectEvent):
            events.append(parsed)
        else:
            ignored.append(parsed)
    return ParsedNotification(tuple(events), tuple(ignored))


def _parse_minio(doc: Mapping[str, Any], path: str) -> ParsedNotification:
    """MinIO: ``Records`` keys are URL-encoded; the top-level ``Key`` is already decoded."""
    name = f.event_name(doc, "EventName", path)
    records = doc.get("Records")
    if records is not None and not (isinstance(records, list) and not records):
        return _parse_records(records, f.join(path, "Records"), source="minio")
    if not is_object_event_name(name):
        return _ignored(REASON_NOT_OBJECT_EVENT, f"{name} is not an object event")
    key_path = f.join(path, "Key")
    full = f.text(f.member(doc, "Key", path), key_path)
    bucket, slash, key = full.partition("/")
    if not slash or not bucket:
        raise f.malformed(key_path, f"expected 'bucket/key', got {f.preview(full)}")
    event = ObjectEvent(
        bucket=bucket,
        key=check_object_key(key, key_path),
        size=None,
        etag=None,
        version_id=None,
        event_name=name,
        sequencer=None,
        event_time=None,
        source="minio",
    )
    return ParsedNotification(events=(event,))


def _parse_cloudevent(doc: Mapping[str, Any], path: str) -> ParsedNotification:
    """A CloudEvent: ``data`` is one record (``data.obs``), a list, or ``{"Records": ...}``."""
    data_path = f.join(path, "data")
    data = f.member(doc, "data", path)
    if isinstance(data, str):
        data = _load(data, data_path)
    time = f.event_time(doc, "time", path)
    if isinstance(data, list):
        return _parse_records(data, data_path, source="cloudevents", default_time=time)
    data = f.mapping(data, data_path)
    if "Records" in data:
        return _parse_records(
            data["Records"], f.join(data_path, "Records"), source="cloudevents", default_time=time
        )
    parsed = parse_record(data, data_path, source="cloudevents", default_time=time)
    if isinstance(parsed, ObjectEvent):
        return ParsedNotification(events=(parsed,))
    return ParsedNotification(ignored=(parsed,))


def _parse_envelope(doc: Mapping[str, Any], path: str, depth: int) -> ParsedNotification | None:
    """SNS or SMN: a ``Notification`` carries the body as JSON text in ``Message``."""
    for type_name, message_name in _ENVELOPES:
        kind = doc.get(type_name)
        if not isinstance(kind, str) or (message_name not in doc and kind not in _CONFIRMATIONS):
            continue
        if kind in _CONFIRMATIONS:
            topic = doc.get("TopicArn", doc.get("topic_urn"))
            return _ignored(REASON_SUBSCRIPTION, f"{kind} for topic {f.preview(topic)}")
        if kind != "Notification":
            raise f.malformed(f.join(path, type_name), f"unsupported type {f.preview(kind)}")
        if depth >= MAX_ENVELOPE_DEPTH:
            raise f.malformed(path, f"more than {MAX_ENVELOPE_DEPTH} nested envelopes")
        message_path = f.join(path, message_name)
        message = f.member(doc, message_name, path)
        inner = _load(message, message_path) if isinstance(message, str) else message
        return _parse_document(inner, message_path, depth + 1)
    return None


def _ignored(reason: str, detail: str) -> ParsedNotification:
    return ParsedNotification(ignored=(IgnoredRecord(reason, detail),))
