"""Errors to HTTP answers: ``{"error": {"code", "message"}}`` with the right status.

A :class:`~trigger_service.errors.TriggerServiceError` carries its own status. Errors of the
other packages, and the ``error`` of a failed execution record, are answered by code: storage
codes by :data:`STORAGE_STATUS`, other codes 503 when transient, else 422 (the input is bad).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from storage_adapter import StorageError
from trigger_service.errors import TriggerServiceError

#: Statuses of the codes that are not a :class:`TriggerServiceError`'s.
STORAGE_STATUS: Mapping[str, int] = {
    "AccessDenied": 403,
    "NotFound": 404,
    "NoSuchKey": 404,
    "NoSuchBucket": 404,
    "MethodNotAllowed": 405,
    "ObjectChanged": 409,
    "InternalError": 500,
    "UnexpectedResponse": 502,
    "StorageUnavailable": 503,
    "Timeout": 504,
}


def _service_statuses(cls: type[TriggerServiceError]) -> dict[str, int]:
    found = {cls.code: cls.status}
    for subclass in cls.__subclasses__():
        found.update(_service_statuses(subclass))
    return found


def status_for(code: str, *, transient: bool = False) -> int:
    """The HTTP status answering an error ``code`` (of an exception or an execution record)."""
    known = _service_statuses(TriggerServiceError).get(code) or STORAGE_STATUS.get(code)
    return known or (503 if transient else 422)


def error_response(
    code: str,
    message: str,
    *,
    status: int | None = None,
    transient: bool = False,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """``{"error": {"code", "message"}}`` with the status of ``code``."""
    return JSONResponse(
        {"error": {"code": code, "message": message}},
        status_code=status or status_for(code, transient=transient),
        headers=dict(headers or {}),
    )


async def _on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TriggerServiceError)
    return error_response(exc.code, exc.message, status=exc.status, headers=exc.headers())


async def _on_storage_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StorageError)
    return error_response(exc.code, exc.message, transient=exc.transient)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "InvalidRequest")
    return error_response(code, str(exc.detail), status=exc.status_code, headers=exc.headers)


async def _on_unexpected_error(request: Request, exc: Exception) -> Response:
    return error_response("InternalError", "an unexpected error occurred; see the service log")


#: Starlette ``exception_handlers`` of the app.
EXCEPTION_HANDLERS: Mapping[Any, Any] = {
    TriggerServiceError: _on_service_error,
    StorageError: _on_storage_error,
    HTTPException: _on_http_error,
    Exception: _on_unexpected_error,
}
