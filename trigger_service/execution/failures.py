"""From an exception to the ``error`` of an execution record: code, message, step."""

from __future__ import annotations

from botocore import exceptions as botocore_errors

from bridge import StageFailed
from storage_adapter import RETRYABLE_TRANSFER_ERRORS
from trigger_service.errors import CodedError
from trigger_service.records import ErrorInfo


def error_info(error: BaseException, *, step: str | None = None) -> ErrorInfo:
    """The record's error for ``error``; unwraps :class:`StageFailed` to the original."""
    if isinstance(error, StageFailed):
        return error_info(error.error, step=error.stage)
    if isinstance(error, CodedError):
        return ErrorInfo(
            code=error.code, message=error.message, step=step, transient=bool(error.transient)
        )
    if isinstance(
        error, botocore_errors.NoCredentialsError | botocore_errors.PartialCredentialsError
    ):
        return ErrorInfo(
            code="NoCredentials",
            message="no usable storage credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            step=step,
        )
    if isinstance(error, RETRYABLE_TRANSFER_ERRORS):
        return ErrorInfo(
            code="StorageUnavailable",
            message=f"the storage endpoint could not be reached or dropped the connection: "
            f"{type(error).__name__}: {error}",
            step=step,
            transient=True,
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
