"""Storage adapter: everything about talking to an S3-compatible store.

``client`` builds the boto3 client and runs calls in worker threads; ``reader`` streams an
object with pinned ranged GETs; ``writer`` writes a stream with multipart upload; ``transfer``
holds the sizes that bound memory; ``objects`` the values read and written; ``retry`` the
retries botocore does not do; every error, and the mapping from botocore's, is in ``errors``.
"""

from storage_adapter.client import StorageIO, StorageSettings, make_s3_client
from storage_adapter.errors import (
    AccessDenied,
    ObjectChanged,
    ObjectNotFound,
    StorageError,
    TransientStorageError,
    UploadGone,
    call_mapped,
    map_client_error,
)
from storage_adapter.objects import (
    MAX_KEY_BYTES,
    ObjectInfo,
    WriteCondition,
    WriteResult,
    strip_etag,
    version_or_none,
)
from storage_adapter.probe import storage_answers
from storage_adapter.reader import RangedReader
from storage_adapter.retry import RETRYABLE_TRANSFER_ERRORS
from storage_adapter.transfer import TransferSettings
from storage_adapter.writer import MultipartWriter

__all__ = [
    "MAX_KEY_BYTES",
    "RETRYABLE_TRANSFER_ERRORS",
    "AccessDenied",
    "MultipartWriter",
    "ObjectChanged",
    "ObjectInfo",
    "ObjectNotFound",
    "RangedReader",
    "StorageError",
    "StorageIO",
    "StorageSettings",
    "TransferSettings",
    "TransientStorageError",
    "UploadGone",
    "WriteCondition",
    "WriteResult",
    "call_mapped",
    "make_s3_client",
    "map_client_error",
    "storage_answers",
    "strip_etag",
    "version_or_none",
]
