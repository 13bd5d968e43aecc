"""Request bodies read incrementally, never past a limit or a pace, validated with pydantic.

With :class:`~trigger_service.execution.admission.AdmissionLimits` a body must also keep
coming: no read waits more than ``body_timeout`` seconds, and the whole body must be in by
``body_timeout + received / body_min_rate`` seconds after it started; otherwise
:class:`~trigger_service.errors.RequestTimeout` (``408``, the connection closed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from steps import format_validation_error
from trigger_service.errors import InvalidRequest, RequestTimeout, RequestTooLarge
from trigger_service.execution.admission import AdmissionLimits

M = TypeVar("M", bound=BaseModel)


class ObjectRequest(BaseModel):
    """Body of ``POST /workflows/{name}/executions`` and of JSON synchronous executions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(min_length=3, max_length=255)
    key: str = Field(min_length=1, max_length=1024)


def _too_large(limit: int) -> RequestTooLarge:
    return RequestTooLarge(f"the request body is larger than {limit} bytes")


async def limited_stream(
    request: Request, limit: int, *, pace: AdmissionLimits | None = None
) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; raises :class:`RequestTooLarge` past ``limit``.

    A ``Content-Length`` over the limit is refused before anything is read; otherwise the
    count stops the transfer at the first chunk that crosses it. With ``pace``, a body that
    stalls or trickles raises :class:`RequestTimeout` (see the module docstring).
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    total = 0
    started = anyio.current_time()
    chunks = request.stream().__aiter__()
    while True:
        try:
            if pace is None:
                chunk = await chunks.__anext__()
            else:
                with anyio.fail_after(_wait_allowed(pace, started, total)):
                    chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise _too_slow(pace, started, total) from None
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        if chunk:
            yield chunk


def _wait_allowed(pace: AdmissionLimits, started: float, received: int) -> float:
    """Seconds the next read may wait: the idle timeout, or less when the rate runs out."""
    now = anyio.current_time()
    due = started + pace.body_timeout + received / pace.body_min_rate
    return max(min(pace.body_timeout, due - now), 0.0)


def _too_slow(pace: AdmissionLimits | None, started: float, received: int) -> RequestTimeout:
    assert pace is not None
    elapsed = anyio.current_time() - started
    return RequestTimeout(
        f"the request body came too slowly: {received} bytes in {elapsed:.1f} s; send it "
        f"without pausing {pace.body_timeout:g} s, at {pace.body_min_rate} bytes/s at least"
    )


async def read_body(request: Request, limit: int, *, pace: AdmissionLimits | None = None) -> bytes:
    """The whole body, at most ``limit`` bytes (:class:`RequestTooLarge` beyond)."""
    return b"".join([chunk async for chunk in limited_stream(request, limit, pace=pace)])


def parse_model(model: type[M], body: bytes) -> M:
    """``body`` as JSON validated into ``model``; :class:`InvalidRequest` names the field."""
    try:
        return model.model_validate_json(body or b"null")
    except ValidationError as exc:
        raise InvalidRequest(format_validation_error("body", exc)) from None
