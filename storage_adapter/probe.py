"""Whether the storage answers: one HeadBucket, for health checks.

Any answer (the bucket exists, is missing, or is denied) means the storage is up; only a
transient failure (a server error, throttling, a connection that fails) means it is down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage_adapter.errors import StorageError, TransientStorageError, call_mapped
from storage_adapter.retry import RETRYABLE_TRANSFER_ERRORS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def storage_answers(client: S3Client, bucket: str) -> None:
    """One HeadBucket of ``bucket``; raises :class:`TransientStorageError` when it fails."""
    try:
        call_mapped(client.head_bucket, "HeadBucket", bucket=bucket, key=None, Bucket=bucket)
    except StorageError as exc:
        if exc.transient:
            raise
    except RETRYABLE_TRANSFER_ERRORS as exc:
        raise TransientStorageError(
            f"HeadBucket s3://{bucket}: the storage endpoint does not answer: "
            f"{type(exc).__name__}: {exc}",
            bucket=bucket,
        ) from exc
