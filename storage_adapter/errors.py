"""Errors of the storage adapter, mapped from botocore's with the cause kept.

::

    StorageError                code                transient
    ├── ObjectNotFound          NoSuchKey           no
    ├── BucketNotFound          NoSuchBucket        no
    ├── AccessDenied            AccessDenied        no
    ├── ObjectChanged           ObjectChanged       no   (etag/size differ from the pinned ones)
    ├── UnexpectedResponse      UnexpectedResponse  no   (e.g. 200 instead of 206 to a range)
    ├── RequestRejected         InvalidRequest      no   (4xx the request itself caused)
    ├── OutputTooLarge          OutputTooLarge      no   (over the writer's max_output_bytes)
    ├── UploadGone              NoSuchUpload        yes  (for the execution, not the request)
    └── TransientStorageError   StorageUnavailable  yes  (5xx, throttling, connection errors
                                                          that outlived every retry)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError


class StorageError(Exception):
    """Base class of storage errors; ``code`` is stable, ``transient`` says retry may help."""

    code = "StorageError"
    transient = False

    def __init__(self, message: str, *, bucket: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.bucket = bucket
        self.key = key


class ObjectNotFound(StorageError):
    """The object (or the pinned version of it) does not exist."""

    code = "NoSuchKey"


class BucketNotFound(StorageError):
    """The bucket does not exist."""

    code = "NoSuchBucket"


class AccessDenied(StorageError):
    """The credentials in use may not perform the request."""

    code = "AccessDenied"


class ObjectChanged(StorageError):
    """The object changed while it was being read (its etag no longer matches)."""

    code = "ObjectChanged"


class UnexpectedResponse(StorageError):
    """The server answered in a way that would corrupt the stream if accepted."""

    code = "UnexpectedResponse"


class RequestRejected(StorageError):
    """The server rejected the request as invalid."""

    code = "InvalidRequest"


class OutputTooLarge(StorageError):
    """The output grew past the writer's ``max_output_bytes``; its upload is aborted."""

    code = "OutputTooLarge"


class UploadGone(StorageError):
    """The multipart upload no longer exists (completed or aborted by someone else).

    Transient for the execution (running it again starts a new upload), but retrying the
    same request can never succeed.
    """

    code = "NoSuchUpload"
    transient = True


class TransientStorageError(StorageError):
    """A failure that may pass: server errors, throttling, broken connections."""

    code = "StorageUnavailable"
    transient = True


_NOT_FOUND = {"NoSuchKey", "NotFound", "404", "NoSuchVersion"}
_NO_BUCKET = {"NoSuchBucket"}
_DENIED = {"AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
_CHANGED = {"PreconditionFailed", "412"}
_TRANSIENT = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
}


def call_mapped(
    method: Callable[..., Any], action: str, *, bucket: str, key: str | None, **params: Any
) -> Any:
    """``method(**params)`` with a botocore ``ClientError`` mapped to a :class:`StorageError`."""
    try:
        return method(**params)
    except ClientError as exc:
        raise map_client_error(exc, bucket=bucket, key=key, action=action) from exc


def map_client_error(
    error: Any, *, bucket: str | None, key: str | None, action: str
) -> StorageError:
    """The most specific :class:`StorageError` for a botocore ``ClientError``."""
    response = getattr(error, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    detail = response.get("Error", {}).get("Message") or code or f"HTTP {status}"
    if code == "NoSuchUpload":
        return UploadGone(f"{action} {where}: the multipart upload is gone", bucket=bucket, key=key)
    if code in _NO_BUCKET:
        return BucketNotFound(f"{action} {where}: bucket does not exist", bucket=bucket, key=key)
    if code in _NOT_FOUND or status == 404:
        return ObjectNotFound(f"{action} {where}: object not found", bucket=bucket, key=key)
    if code in _DENIED or status == 403:
        return AccessDenied(
            f"{action} {where}: access denied ({detail}); check the credentials and the "
            "bucket policy",
            bucket=bucket,
            key=key,
        )
    if code in _CHANGED or status == 412:
        return ObjectChanged(
            f"{action} {where}: the object changed while it was being processed "
            "(etag no longer matches); the new version will trigger its own execution",
            bucket=bucket,
            key=key,
        )
    if code in _TRANSIENT or status >= 500 or status == 429:
        return TransientStorageError(f"{action} {where}: {detail}", bucket=bucket, key=key)
    return RequestRejected(f"{action} {where}: {detail}", bucket=bucket, key=key)
