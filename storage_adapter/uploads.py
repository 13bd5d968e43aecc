"""Multipart housekeeping: open uploads listed and aborted, outputs completed earlier found.

Every call goes through :func:`~storage_adapter.errors.call_mapped`, so callers see
:class:`~storage_adapter.errors.StorageError` subclasses, never botocore's. These are blocking
functions of a client; run them with :meth:`StorageIO.call` (``await io.call(fn, client, …)``).
The service decides *what* to abort and *when*; this module knows *how*.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from storage_adapter.errors import ObjectNotFound, UploadGone, call_mapped
from storage_adapter.objects import ObjectInfo, strip_etag, version_or_none

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenUpload:
    """A multipart upload that is neither completed nor aborted."""

    bucket: str
    key: str
    upload_id: str
    initiated: datetime | None = None


def list_open_uploads(
    client: S3Client, bucket: str, *, key: str | None = None, prefix: str = ""
) -> list[OpenUpload]:
    """Open uploads of exactly ``key`` (when given) or of every key under ``prefix``."""
    found: list[OpenUpload] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": key if key is not None else prefix}
    while True:
        page = call_mapped(
            client.list_multipart_uploads, "ListMultipartUploads", bucket=bucket, key=key, **params
        )
        for upload in page.get("Uploads", []):
            if key is None or upload.get("Key") == key:
                found.append(
                    OpenUpload(bucket, upload["Key"], upload["UploadId"], upload.get("Initiated"))
                )
        if not page.get("IsTruncated"):
            return found
        params["KeyMarker"] = page.get("NextKeyMarker", "")
        params["UploadIdMarker"] = page.get("NextUploadIdMarker", "")


def abort_upload(client: S3Client, bucket: str, key: str, upload_id: str) -> bool:
    """Abort one upload; False when it was already gone (completed or aborted)."""
    try:
        call_mapped(
            client.abort_multipart_upload,
            "AbortMultipartUpload",
            bucket=bucket,
            key=key,
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
        )
    except (UploadGone, ObjectNotFound):
        return False
    return True


def abort_upload_by_id(
    client: S3Client, bucket: str, upload_id: str, *, key: str | None = None
) -> bool:
    """Abort ``upload_id``, under ``key`` when known, else wherever the bucket lists it."""
    if key is not None and abort_upload(client, bucket, key, upload_id):
        return True
    for upload in list_open_uploads(client, bucket):
        if upload.upload_id == upload_id:
            return abort_upload(client, bucket, upload.key, upload_id)
    return False


def abort_open_uploads(
    client: S3Client, bucket: str, key: str, *, keep: str | None = None
) -> list[str]:
    """Abort every open upload of exactly ``key`` except ``keep``; the ids aborted."""
    aborted = []
    for upload in list_open_uploads(client, bucket, key=key):
        if upload.upload_id != keep and abort_upload(client, bucket, key, upload.upload_id):
            aborted.append(upload.upload_id)
    if aborted:
        logger.info("s3://%s/%s: aborted %d open upload(s)", bucket, key, len(aborted))
    return aborted


def completed_output(
    client: S3Client,
    bucket: str,
    key: str,
    *,
    metadata: Mapping[str, str],
    size: int | None = None,
) -> ObjectInfo | None:
    """The object at ``key`` if it carries every item of ``metadata`` (and has ``size``).

    Answers "was this output completed earlier?" — by an attempt whose answer was lost, or
    by an execution that crashed before recording it.
    """
    try:
        head = call_mapped(
            client.head_object, "HeadObject", bucket=bucket, key=key, Bucket=bucket, Key=key
        )
    except ObjectNotFound:
        return None
    stored = head.get("Metadata", {}) or {}
    if any(stored.get(name) != value for name, value in metadata.items()):
        return None
    if size is not None and head.get("ContentLength") != size:
        return None
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(head.get("ContentLength", 0)),
        etag=strip_etag(head.get("ETag")) or "",
        version_id=version_or_none(head.get("VersionId")),
        content_type=head.get("ContentType"),
        metadata=dict(stored),
    )
