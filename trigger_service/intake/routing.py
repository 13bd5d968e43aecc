"""From an object event to the workflows it starts, with loop guards and idempotency keys.

Matching (:func:`route_event`) is pure: bucket, event name, prefix and (case-insensitive)
suffix. A key under a workflow's own output prefix in the same bucket never starts that
workflow. :class:`Router` then HEADs the object once per matched event, pinned to the event's
etag or version: that gives the etag when the event has none (MinIO), and it lets outputs
(``x-amz-meta-bucketstream-execution``) and direct uploads be ignored before any execution
exists. The idempotency key is workflow + bucket + key + the write's identity (version id, or
etag with sequencer or Last-Modified), so SQS redeliveries and moto's two events for one
multipart upload collapse into one execution while A written again after B does not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from botocore.exceptions import BotoCoreError

from storage_adapter import (
    ObjectChanged,
    ObjectInfo,
    ObjectNotFound,
    RangedReader,
    StorageIO,
    TransientStorageError,
    version_or_none,
)
from trigger_service.events.parse import IgnoredRecord, ObjectEvent
from trigger_service.freshness import write_identity
from trigger_service.records import ObjectRef
from trigger_service.workflows.loops import marker_reason, under_own_output
from trigger_service.workflows.model import Workflow

#: Reasons of the :class:`IgnoredRecord` values routing produces.
REASON_NO_WORKFLOW = "no_matching_workflow"
REASON_OBJECT_GONE = "object_not_found"
REASON_OBJECT_CHANGED = "object_changed"


def idempotency_key(
    workflow: str,
    bucket: str,
    key: str,
    *,
    version_id: str | None,
    etag: str | None,
    sequencer: str | None = None,
    last_modified: datetime | None = None,
) -> str:
    """The key that makes one workflow run once per write of an object (hex SHA-256).

    The version id wins when there is one (an unversioned bucket's ``"null"`` does not
    count, see :func:`~storage_adapter.version_or_none`); otherwise the etag together with
    the event's sequencer or, without one, the object's ``Last-Modified``: A written again
    after B is a new write (:func:`~trigger_service.freshness.write_identity`). One of
    version id and etag is required.
    """
    ref = ObjectRef(
        bucket=bucket,
        key=key,
        etag=etag,
        version_id=version_id,
        sequencer=sequencer,
        last_modified=last_modified,
    )
    material = json.dumps([workflow, bucket, key, write_identity(ref)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Routing:
    """Workflows an event starts, and what was ignored and why."""

    workflows: tuple[Workflow, ...] = ()
    ignored: tuple[IgnoredRecord, ...] = ()


def route_event(workflows: Iterable[Workflow], event: ObjectEvent) -> Routing:
    """The workflows whose trigger accepts ``event``, minus those it is an output of."""
    matched: list[Workflow] = []
    ignored: list[IgnoredRecord] = []
    where = f"s3://{event.bucket}/{event.key}"
    for workflow in workflows:
        trigger = workflow.trigger
        if trigger.bucket != event.bucket or not trigger.accepts_event(event.event_name):
            continue
        if not trigger.accepts_key(event.key):
            continue
        own_output = under_own_output(workflow, event.bucket, event.key)
        if own_output is not None:
            ignored.append(own_output)
            continue
        matched.append(workflow)
    if not matched and not ignored:
        ignored.append(
            IgnoredRecord(
                REASON_NO_WORKFLOW, f"no workflow is triggered by {event.event_name} {where}"
            )
        )
    return Routing(tuple(matched), tuple(ignored))


@dataclass(frozen=True)
class Start:
    """One execution to start: the workflow, the pinned input, its idempotency key."""

    workflow: Workflow
    input: ObjectRef
    idempotency_key: str


@dataclass(frozen=True)
class RoutedEvent:
    """What one event starts and what it does not."""

    starts: tuple[Start, ...] = ()
    ignored: tuple[IgnoredRecord, ...] = ()


def ignore_reason(info: ObjectInfo) -> IgnoredRecord | None:
    """Why an existing object must start nothing (an output, a direct upload), or None."""
    return marker_reason(f"s3://{info.bucket}/{info.key}", info.metadata)


class Router:
    """Routes events to workflows and pins each matched object with one HEAD."""

    def __init__(self, workflows: Iterable[Workflow], io: StorageIO) -> None:
        self.workflows = tuple(workflows)
        self.io = io

    async def head(
        self, bucket: str, key: str, *, etag: str | None = None, version_id: str | None = None
    ) -> ObjectInfo:
        """HEAD ``s3://bucket/key`` (``If-Match`` the etag when given).

        Raises a :class:`~storage_adapter.StorageError`; connection failures and timeouts
        become :class:`~storage_adapter.TransientStorageError`.
        """
        reader = RangedReader(
            self.io, bucket, key, etag=etag, version_id=version_or_none(version_id)
        )
        try:
            return await reader.stat()
        except (BotoCoreError, OSError) as exc:
            raise TransientStorageError(
                f"HEAD s3://{bucket}/{key}: {type(exc).__name__}: {exc}", bucket=bucket, key=key
            ) from exc

    async def route(self, event: ObjectEvent) -> RoutedEvent:
        """The executions ``event`` starts; storage errors other than 404/412 raise."""
        routing = route_event(self.workflows, event)
        if not routing.workflows:
            return RoutedEvent(ignored=routing.ignored)
        where = f"s3://{event.bucket}/{event.key}"
        try:
            info = await self.head(
                event.bucket, event.key, etag=event.etag, version_id=event.version_id
            )
        except ObjectNotFound:
            gone = IgnoredRecord(REASON_OBJECT_GONE, f"{where} no longer exists")
            return RoutedEvent(ignored=(*routing.ignored, gone))
        except ObjectChanged:
            changed = IgnoredRecord(
                REASON_OBJECT_CHANGED,
                f"{where} was replaced since the event; the new version has its own event",
            )
            return RoutedEvent(ignored=(*routing.ignored, changed))
        reason = ignore_reason(info)
        if reason is not None:
            return RoutedEvent(ignored=(*routing.ignored, reason))
        ref = ObjectRef.of(info).model_copy(
            update={
                "version_id": event.version_id or info.version_id,
                "sequencer": event.sequencer,
            }
        )
        starts = tuple(
            Start(
                workflow=workflow,
                input=ref,
                idempotency_key=idempotency_key(
                    workflow.name,
                    ref.bucket,
                    ref.key,
                    version_id=ref.version_id,
                    etag=ref.etag,
                    sequencer=ref.sequencer,
                    last_modified=ref.last_modified,
                ),
            )
            for workflow in routing.workflows
        )
        return RoutedEvent(starts=starts, ignored=routing.ignored)
