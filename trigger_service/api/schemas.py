"""Pydantic models of the HTTP answers that are not an execution record (for the OpenAPI
document): error bodies, listings, webhook answers, health."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trigger_service.records import ExecutionRecord


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class ErrorDetail(_Answer):
    """A stable machine-readable code and a message to act on."""

    code: str
    message: str


class ErrorBody(_Answer):
    """Every error answer."""

    error: ErrorDetail


class ExecutionList(_Answer):
    """One page of executions, newest first; pass ``next_cursor`` as ``cursor``."""

    executions: list[ExecutionRecord]
    next_cursor: str | None


class IgnoredEvent(_Answer):
    """A notification record that started nothing, and why."""

    reason: str
    detail: str


class EventsAnswer(_Answer):
    """What a notification started: new executions, ids of existing ones, what was ignored."""

    executions: list[ExecutionRecord]
    duplicates: list[str]
    ignored: list[IgnoredEvent]


class Health(_Answer):
    """Liveness with the executor's counts; ``unavailable`` (503) with a reason while the
    execution store cannot be reached."""

    # ``reason`` is left out of a healthy answer, so defaults are not required here.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=False)

    status: Literal["ok", "unavailable"]
    worker: str
    store: str
    queued: int
    running: int
    reason: str | None = Field(default=None, description="why, when unavailable")
