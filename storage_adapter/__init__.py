"""Storage adapter: S3-compatible client factory, ranged reader, multipart writer, errors.

Memory bound of one copy (see README): ``read_ahead × chunk_size`` in the reader +
``part_size × (parts_in_flight + 1)`` in the writer; the bridge adds
``chunk_size × (capacity + 1)`` per channel.
"""

from storage_adapter.client import StorageIO, StorageSettings, make_s3_client
from storage_adapter.errors import (
    AccessDenied,
    BucketNotFound,
    InvalidRequest,
    ObjectChanged,
    ObjectNotFound,
    StorageError,
    TransientStorageError,
    UnexpectedResponse,
    UploadGone,
    call_mapped,
    map_client_error,
)
from storage_adapter.objects import (
    ObjectInfo,
    WriteResult,
    quote_etag,
    strip_etag,
    version_or_none,
)
from storage_adapter.reader import DEFAULT_CHUNK_SIZE, DEFAULT_READ_AHEAD, RangedReader
from storage_adapter.retry import RETRYABLE_TRANSFER_ERRORS, RetryPolicy, ShortRead
from storage_adapter.writer import (
    DEFAULT_PART_SIZE,
    DEFAULT_PARTS_IN_FLIGHT,
    MAX_PART_SIZE,
    MIN_PART_SIZE,
    MultipartWriter,
    clamp_part_size,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_PARTS_IN_FLIGHT",
    "DEFAULT_PART_SIZE",
    "DEFAULT_READ_AHEAD",
    "MAX_PART_SIZE",
    "MIN_PART_SIZE",
    "RETRYABLE_TRANSFER_ERRORS",
    "AccessDenied",
    "BucketNotFound",
    "InvalidRequest",
    "MultipartWriter",
    "ObjectChanged",
    "ObjectInfo",
    "ObjectNotFound",
    "RangedReader",
    "RetryPolicy",
    "ShortRead",
    "StorageError",
    "StorageIO",
    "StorageSettings",
    "TransientStorageError",
    "UnexpectedResponse",
    "UploadGone",
    "WriteResult",
    "call_mapped",
    "clamp_part_size",
    "make_s3_client",
    "map_client_error",
    "quote_etag",
    "strip_etag",
    "version_or_none",
]
