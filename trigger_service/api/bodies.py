"""Request bodies read incrementally, never past a limit, and validated with pydantic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from steps import format_validation_error
from trigger_service.errors import InvalidRequest, RequestTooLarge

M = TypeVar("M", bound=BaseModel)


class ObjectRequest(BaseModel):
    """Body of ``POST /workflows/{name}/executions`` and of JSON synchronous executions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3, max_length=255)
    key: str = Field(min_length=1, max_length=1024)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"the request body is larger than {limit} bytes")


async def limited_stream(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; raises :class:`RequestTooLarge` past ``limit``.

    A ``Content-Length`` over the limit is refused before anything is read; otherwise the
    count stops the transfer at the first chunk that crosses it.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        if chunk:
            yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most ``limit`` bytes (:class:`RequestTooLarge` beyond)."""
    return b"".join([chunk async for chunk in limited_stream(request, limit)])


def parse_model(model: type[M], body: bytes) -> M:
    """``body`` as JSON validated into ``model``; :class:`InvalidRequest` names the field."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        raise InvalidRequest(format_validation_error("body", exc)) from None
