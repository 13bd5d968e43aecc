"""One notification record (``Records[i]``, or a CloudEvent's ``data``) to an object event.

Record forms, all S3-like:

* ``s3`` member: AWS S3 (and LocalStack, moto), MinIO, Ceph RGW, and the FunctionGraph
  OBS trigger (``eventSource`` missing or ``aws:s3``, ``ownerIdentity.PrincipalId``).
* ``obs`` member: OBS's own notifications (``eventVersion`` 3.0, ``eventSource`` ``OBS``),
  whose bucket carries ``name`` and/or ``bucket``.

Keys are URL-encoded (``+`` for space) by every store but Ceph RGW, which sends the
object name as it is (``rgw_notify.cc``: ``event.object_key = obj->get_name()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from trigger_service.events import fields as f
from trigger_service.events.types import REASON_NOT_OBJECT_EVENT, IgnoredRecord, ObjectEvent

#: Sources whose record keys are sent as they are, not URL-encoded.
_RAW_KEY_SOURCES = frozenset({"ceph"})
#: Event-name families that are not about an object.
_NOT_OBJECT_FAMILIES = ("Bucket", "TestEvent")
_EVENT_SOURCES = {"minio:s3": "minio", "ceph:s3": "ceph", "obs": "obs"}


def parse_record(
    record: object,
    path: str,
    *,
    source: str | None = None,
    default_time: datetime | None = None,
) -> ObjectEvent | IgnoredRecord:
    """Parse one record; ``source`` overrides detection (a MinIO or CloudEvents body)."""
    rec = f.mapping(record, path)
    if "obs" in rec:
        store, store_source = "obs", "obs"
    elif "s3" in rec:
        store, store_source = "s3", _s3_source(rec, path)
    else:
        return _not_an_object_record(rec, path)

    name = f.event_name(rec, "eventName", path)
    if not is_object_event_name(name):
        return IgnoredRecord(REASON_NOT_OBJECT_EVENT, f"{path}: {name} is not an object event")

    body_path = f.join(path, store)
    body = f.member_mapping(rec, store, path)
    bucket_path = f.join(body_path, "bucket")
    bucket = f.member_mapping(body, "bucket", body_path)
    object_path = f.join(body_path, "object")
    obj = f.member_mapping(body, "object", body_path)

    final_source = source or store_source
    key_path = f.join(object_path, "key")
    return ObjectEvent(
        bucket=_bucket_name(bucket, bucket_path),
        key=f.object_key(
            f.member(obj, "key", object_path),
            key_path,
            url_encoded=store_source not in _RAW_KEY_SOURCES,
        ),
        size=f.size(obj, object_path),
        etag=f.etag(obj, object_path),
        version_id=f.version_id(obj, object_path),
        event_name=name,
        sequencer=f.optional_text(obj, ("sequencer",), object_path),
        event_time=f.event_time(rec, "eventTime", path) or default_time,
        source=final_source,
    )


def is_object_event_name(name: str) -> bool:
    """Whether a normalised event name is about an object (not a bucket, not a test)."""
    return not name.startswith(_NOT_OBJECT_FAMILIES)


def _s3_source(rec: Mapping[str, Any], path: str) -> str:
    """Which store wrote an ``s3`` record, from ``eventSource`` and FunctionGraph's quirks."""
    raw = rec.get("eventSource")
    if raw is None:
        return "obs-functiongraph"
    event_source = f.text(raw, f.join(path, "eventSource")).lower()
    if event_source in _EVENT_SOURCES:
        return _EVENT_SOURCES[event_source]
    return "obs-functiongraph" if _looks_like_functiongraph(rec) else "aws"


def _looks_like_functiongraph(rec: Mapping[str, Any]) -> bool:
    """FunctionGraph writes ``PrincipalId`` with a capital P, and ``arn:fss`` bucket ARNs."""
    body = rec.get("s3")
    bucket = body.get("bucket") if isinstance(body, Mapping) else None
    if not isinstance(bucket, Mapping):
        return False
    owner = bucket.get("ownerIdentity")
    arn = bucket.get("arn")
    return (isinstance(owner, Mapping) and "PrincipalId" in owner) or (
        isinstance(arn, str) and arn.startswith("arn:fss:")
    )


def _bucket_name(bucket: Mapping[str, Any], path: str) -> str:
    """``bucket.name``; OBS records may carry only ``bucket.bucket``."""
    name = f.first_present(bucket, ("name", "bucket")) or "name"
    return f.text(f.member(bucket, name, path), f.join(path, name))


def _not_an_object_record(rec: Mapping[str, Any], path: str) -> IgnoredRecord:
    """A record with neither ``s3`` nor ``obs``: another service's record, or malformed."""
    described = f.first_present(rec, ("eventSource", "EventSource", "eventName"))
    if described is None or not isinstance(rec[described], str):
        raise f.malformed(f.join(path, "s3"), "missing")
    what = f.preview(rec[described])
    return IgnoredRecord(REASON_NOT_OBJECT_EVENT, f"{path}: {what} record has no s3 or obs object")
