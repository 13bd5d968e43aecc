"""The execution record: the JSON users read over HTTP and from ``bucketstream run``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from bridge import StageMetrics
from storage_adapter import ObjectInfo, WriteResult
from trigger_service.events.types import ObjectEvent


class ExecutionStatus(StrEnum):
    """queued → running → succeeded | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        """Whether the execution has ended."""
        return self in {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED}


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_execution_id() -> str:
    """A new execution id (time-sortable UUIDv7-like hex would also do; uuid4 is enough)."""
    return uuid.uuid4().hex


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _from_timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class _Record(BaseModel):
    # Serialized records always carry every field: the JSON Schema says so (OpenAPI).
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class ObjectRef(_Record):
    """An input or output object."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None
    version_id: str | None = None
    #: When the store says this version was written (``Last-Modified``): orders writes.
    last_modified: datetime | None = None
    #: The event's ``sequencer``, which orders the writes of one key, when it had one.
    sequencer: str | None = None

    @classmethod
    def of(cls, stored: ObjectInfo | WriteResult | ObjectEvent) -> ObjectRef:
        """The reference of an object read (HEAD), written, or named by an event."""
        return cls(
            bucket=stored.bucket,
            key=stored.key,
            etag=stored.etag,
            size=stored.size,
            version_id=stored.version_id,
            last_modified=getattr(stored, "last_modified", None),
            sequencer=getattr(stored, "sequencer", None),
        )

    @field_serializer("last_modified")
    def _times(self, value: datetime | None) -> str | None:
        return _iso(value)


class OutputRef(ObjectRef):
    """One output of a fan-out workflow: the branch's name and the object it wrote."""

    name: str


class ErrorInfo(_Record):
    """Why an execution failed: a stable code, a message to act on, the step at fault."""

    code: str
    message: str
    step: str | None = None
    transient: bool = False


class StepRecord(_Record):
    """One stage's progress and metrics."""

    name: str
    status: str = "pending"
    bytes_in: int = 0
    bytes_out: int = 0
    frames_in: int = 0
    frames_out: int = 0
    send_blocked_seconds: float = 0.0
    receive_blocked_seconds: float = 0.0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    first_output_at: datetime | None = None
    last_input_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    #: What a user may want to know although the step succeeded (e.g. a broken animation
    #: replaced by its first frame); from ``StageMetrics.extra["warnings"]``.
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def from_metrics(cls, metrics: StageMetrics) -> StepRecord:
        """A record of a bridge stage's live metrics."""
        return cls(
            name=metrics.name,
            status=str(metrics.status),
            bytes_in=metrics.bytes_in,
            bytes_out=metrics.bytes_out,
            frames_in=metrics.frames_in,
            frames_out=metrics.frames_out,
            send_blocked_seconds=round(metrics.send_blocked_seconds, 6),
            receive_blocked_seconds=round(metrics.receive_blocked_seconds, 6),
            started_at=_from_timestamp(metrics.started_at),
            finished_at=_from_timestamp(metrics.finished_at),
            first_output_at=_from_timestamp(metrics.first_output_at),
            last_input_at=_from_timestamp(metrics.last_input_at),
            details={k: v for k, v in metrics.extra.items() if _is_json_scalar(v)},
            warnings=[str(w) for w in metrics.extra.get("warnings", ())],
        )

    @field_serializer("started_at", "finished_at", "first_output_at", "last_input_at")
    def _times(self, value: datetime | None) -> str | None:
        return _iso(value)


class ExecutionRecord(_Record):
    """One execution of a workflow on one object version."""

    id: str = Field(default_factory=new_execution_id)
    workflow: str
    status: ExecutionStatus = ExecutionStatus.QUEUED
    input: ObjectRef
    #: The output of a single-output workflow (``output:``), once committed.
    output: ObjectRef | None = None
    #: The outputs of a fan-out workflow (``outputs:``), in branch order, once all committed.
    outputs: list[OutputRef] | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    error: ErrorInfo | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: Where the execution came from (``api``, ``webhook``, ``sqs``, ``cli``...).
    source: str = "api"
    #: The open multipart upload, while one is open (for crash recovery).
    upload_id: str | None = None
    #: A fan-out's open multipart uploads by branch name, while they are open.
    upload_ids: dict[str, str] = Field(default_factory=dict)
    idempotency_key: str | None = None
    #: The worker that owns (or last owned) the execution (``--worker-id``).
    worker: str | None = None
    #: Until when ``worker`` holds the execution; another worker may take it over afterwards.
    lease_expires_at: datetime | None = None
    #: Times the worker running this execution died (its lease expired while it ran).
    crashes: int = 0

    @field_serializer("created_at", "started_at", "finished_at", "lease_expires_at")
    def _times(self, value: datetime | None) -> str | None:
        return _iso(value)

    def public(self) -> dict[str, Any]:
        """The JSON document of the HTTP API and the CLI."""
        return self.model_dump(mode="json", exclude={"idempotency_key"})


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
