"""Request bodies: typed, read incrementally, never past a limit or a pace, validated with pydantic.

A JSON body must say so (``application/json`` or ``application/*+json``; :func:`require_json`):
the types a browser may send to another site without a CORS preflight (:data:`FORM_TYPES`) are
never parsed as JSON, so a page on another site cannot start work through a visitor's browser
with a form or a ``text/plain`` fetch. A synchronous execution's raw upload is any other type
(``application/octet-stream``, ``image/*``, ...; :func:`sync_body_kind`).

With :class:`~trigger_service.execution.admission.AdmissionLimits` a body must also keep
coming: no read waits more than ``body_timeout`` seconds, and the whole body must be in by
``body_timeout + received / body_min_rate`` seconds after it started; otherwise
:class:`~trigger_service.errors.RequestTimeout` (``408``, the connection closed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, TypeVar

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from steps import format_validation_error
from trigger_service.errors import (
    InvalidRequest,
    RequestTimeout,
    RequestTooLarge,
    UnsupportedMediaType,
)
from trigger_service.execution.admission import AdmissionLimits

M = TypeVar("M", bound=BaseModel)

JSON_TYPE = "application/json"
#: What a browser sends cross-site without a preflight: never JSON, never a raw upload.
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
#: The header SNS sets on its HTTP deliveries (which it sends as ``text/plain``); a browser
#: cannot send it to another site without a preflight.
SNS_MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters, lower case (``""`` when absent)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def is_json_type(media: str) -> bool:
    """Whether ``media`` is a JSON type (``application/json``, ``application/*+json``)."""
    return media == JSON_TYPE or (media.startswith("application/") and media.endswith("+json"))


def _not_json(media: str) -> UnsupportedMediaType:
    given = f"Content-Type {media!r}" if media else "no Content-Type"
    return UnsupportedMediaType(
        f"the body must be JSON sent with Content-Type: {JSON_TYPE} (got {given}); with curl, "
        f"add -H 'content-type: {JSON_TYPE}'"
    )


def require_json(request: Request) -> None:
    """Raise :class:`UnsupportedMediaType` (415) unless the body is typed as JSON."""
    media = media_type(request)
    if not is_json_type(media):
        raise _not_json(media)


def sync_body_kind(request: Request) -> Literal["json", "raw"]:
    """A synchronous execution's body: ``{"bucket","key"}`` (JSON) or a raw upload.

    A form, ``text/plain`` or an untyped body is neither (415): it could come from another
    site's page, and an untyped body does not say which it is.
    """
    media = media_type(request)
    if is_json_type(media):
        return "json"
    if media in FORM_TYPES or not media:
        raise UnsupportedMediaType(
            f"{_not_json(media).message}; a raw upload needs its own type, e.g. "
            "application/octet-stream or image/jpeg"
        )
    return "raw"


def check_event_type(request: Request) -> None:
    """Raise :class:`UnsupportedMediaType` for a notification sent as a browser form.

    Storage services send JSON (some without a type); SNS sends ``text/plain`` with its
    message-type header, which is accepted.
    """
    media = media_type(request)
    sns = media == "text/plain" and SNS_MESSAGE_TYPE_HEADER in request.headers
    if media in FORM_TYPES and not sns:
        raise _not_json(media)


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
