"""From an exception to the ``error`` of an execution record: code, message, step."""

from __future__ import annotations

from bridge import StageFailed
from trigger_service.records import ErrorInfo


def error_info(error: BaseException, *, step: str | None = None) -> ErrorInfo:
    """The record's error for ``error``; unwraps :class:`StageFailed` to the original."""
    if isinstance(error, StageFailed):
        return error_info(error.error, step=error.stage)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    if isinstance(code, str) and isinstance(message, str):
        return ErrorInfo(
            code=code, message=message, step=step, transient=bool(getattr(error, "transient", 0))
        )
    if isinstance(error, TimeoutError):
        return ErrorInfo(
            code="Timeout",
            message="the execution did not finish within the workflow's timeout_seconds",
            step=step,
            transient=True,
        )
    if isinstance(error, OSError):
        return ErrorInfo(
            code="StorageUnavailable",
            message=f"{type(error).__name__}: {error}",
            step=step,
            transient=True,
        )
    return ErrorInfo(
        code="InternalError",
        message=f"{type(error).__name__}: {error}",
        step=step,
        transient=False,
    )
