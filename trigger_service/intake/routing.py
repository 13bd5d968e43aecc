"""From an object event to the workflows it starts, with loop guards and idempotency keys.

Matching (:func:`route_event`) is pure: bucket, event name, prefix and (case-insensitive)
suffix. A key under a workflow's own output prefix in the same bucket never starts that
workflow. :class:`Router` then HEADs the object once per matched event, pinned to the event's
etag or version: that gives the etag when the event has none (MinIO), and it lets outputs
(``x-amz-meta-bucketstream-execution``) and direct uploads be ignored before any execution
exists. The idempotency key is workflow + bucket + key + the write's identity (version id, or
etag with sequencer or Last-Modified), so SQS redeliveries and moto's two events for one
multipart upload collapse into one execution while A written again after B does not.

One notification body is bounded before any HEAD: :func:`check_record_count` refuses a body
of more than ``max_event_records`` records (``413``), :meth:`Router.route_all` matches every
event first (pure), lets the caller refuse the work (a full queue) knowing how many HEADs it
needs, then HEADs ``head_parallel`` objects at once, all of them within
``head_budget_seconds`` (beyond: :class:`~storage_adapter.TransientStorageError`, ``503``;
an SQS message is left for redelivery).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import anyio
from anyio.abc import TaskGroup
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
from trigger_service.errors import RequestTooLarge
from trigger_service.events.parse import IgnoredRecord, ObjectEvent
from trigger_service.events.types import ParsedNotification
from trigger_service.execution.admission import (
    DEFAULT_HEAD_BUDGET_SECONDS,
    DEFAULT_HEAD_PARALLEL,
)
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


def check_record_count(parsed: ParsedNotification, maximum: int) -> None:
    """Raise :class:`RequestTooLarge` when ``parsed`` holds more than ``maximum`` records."""
    count = len(parsed.events) + len(parsed.ignored)
    if count > maximum:
        raise RequestTooLarge(
            f"the notification holds {count} records; at most {maximum} are accepted in "
            f"one body (service.max_event_records): send them in several"
        )


def ignore_reason(info: ObjectInfo) -> IgnoredRecord | None:
    """Why an existing object must start nothing (an output, a direct upload), or None."""
    return marker_reason(f"s3://{info.bucket}/{info.key}", info.metadata)


class Router:
    """Routes events to workflows and pins each matched object with one HEAD."""

    def __init__(
        self,
        workflows: Iterable[Workflow],
        io: StorageIO,
        *,
        head_parallel: int = DEFAULT_HEAD_PARALLEL,
        head_budget_seconds: float = DEFAULT_HEAD_BUDGET_SECONDS,
    ) -> None:
        self.workflows = tuple(workflows)
        self.io = io
        self.head_parallel = head_parallel
        self.head_budget_seconds = head_budget_seconds

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
        return await self._pin(event, routing)

    async def route_all(
        self,
        events: Sequence[ObjectEvent],
        *,
        before_heads: Callable[[int], object] | None = None,
    ) -> list[RoutedEvent]:
        """What each of ``events`` starts, in order, with bounded HEADs (module docstring).

        ``before_heads`` is called with the number of HEADs needed before the first is sent
        (only when there is at least one); whatever it raises is raised. A storage error of
        any HEAD (other than 404/412) raises, the other HEADs then being cancelled.
        """
        routings = [route_event(self.workflows, event) for event in events]
        routed = [RoutedEvent(ignored=routing.ignored) for routing in routings]
        pending = [index for index, routing in enumerate(routings) if routing.workflows]
        if not pending:
            return routed
        if before_heads is not None:
            before_heads(len(pending))
        limiter = anyio.CapacityLimiter(self.head_parallel)
        failures: list[BaseException] = []

        async def pin(index: int, group: TaskGroup) -> None:
            async with limiter:
                try:
                    routed[index] = await self._pin(events[index], routings[index])
                except Exception as exc:
                    failures.append(exc)
                    group.cancel_scope.cancel()

        with anyio.move_on_after(self.head_budget_seconds) as budget:
            async with anyio.create_task_group() as group:
                for index in pending:
                    group.start_soon(pin, index, group)
        if failures:
            raise failures[0]
        if budget.cancelled_caught:
            first = events[pending[0]]
            raise TransientStorageError(
                f"the {len(pending)} HEADs of this notification took longer than "
                f"{self.head_budget_seconds:g} s (service.head_budget_seconds); "
                "the storage is slow, try again later",
                bucket=first.bucket,
                key=first.key,
            )
        return routed

    async def _pin(self, event: ObjectEvent, routing: Routing) -> RoutedEvent:
        """HEAD the object of a matched ``event`` and make its starts."""
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
