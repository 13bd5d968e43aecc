"""Looking into buckets and queues from tests, and the sizes tests speak in."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KiB = 1024
MiB = 1024 * KiB


def open_uploads(s3: S3Client, bucket: str) -> list[str]:
    """Keys of the multipart uploads still open in ``bucket``."""
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def keys_under(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix`` (all pages)."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def versions_under(s3: S3Client, bucket: str, prefix: str) -> dict[str, int]:
    """How many versions each key under ``prefix`` has (delete markers excluded)."""
    counts: dict[str, int] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
    return counts


def read_object(s3: S3Client, bucket: str, key: str) -> bytes:
    """The whole body of ``s3://bucket/key``."""
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
