"""Test objects on the server: made part by part from a generator, never whole in memory."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from benchmarks.stats import MiB

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART_SIZE = 8 * MiB
BLOCK_SIZE = 1 * MiB


def random_ish_parts(
    size: int, *, part_size: int = PART_SIZE, seed_block: bytes | None = None
) -> Iterator[bytes]:
    """``size`` bytes as parts: a 1 MiB random block repeated, each part stamped with its number.

    The block is longer than deflate's 32 KiB window, so the data does not compress (gzip
    output is as large as its input: the writer gets as much to upload as the reader reads).
    """
    block = seed_block or os.urandom(BLOCK_SIZE)
    template = (block * (part_size // len(block) + 1))[:part_size]
    for number, start in enumerate(range(0, size, part_size)):
        length = min(part_size, size - start)
        stamp = number.to_bytes(8, "big")
        yield stamp + template[len(stamp) : length] if length > len(stamp) else template[:length]


def new_bucket(client: S3Client, prefix: str = "bench") -> str:
    """A new empty bucket."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    return name


def put_generated(client: S3Client, bucket: str, key: str, size: int, *, threads: int = 4) -> str:
    """Upload ``size`` random-ish bytes to ``s3://bucket/key`` by multipart; returns the etag."""
    if size <= PART_SIZE:
        data = b"".join(random_ish_parts(size))
        return str(client.put_object(Bucket=bucket, Key=key, Body=data)["ETag"])
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def send(numbered: tuple[int, bytes]) -> dict[str, object]:
        number, body = numbered
        response = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    try:
        with ThreadPoolExecutor(threads) as pool:
            window = threading.BoundedSemaphore(threads * 2)

            def release(_: Future[dict[str, object]]) -> None:
                window.release()

            futures = []
            for numbered in enumerate(random_ish_parts(size), start=1):
                window.acquire()
                future = pool.submit(send, numbered)
                future.add_done_callback(release)
                futures.append(future)
            parts = [future.result() for future in futures]
        response = client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
        )
    except BaseException:
        with contextlib.suppress(ClientError):  # keep the original error
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
        raise
    return str(response["ETag"])


def empty_bucket(client: S3Client, bucket: str, *, delete: bool = True) -> None:
    """Delete every object and open upload of ``bucket`` (and the bucket when ``delete``)."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    if delete:
        client.delete_bucket(Bucket=bucket)
