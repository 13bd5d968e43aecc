"""Streaming copies through the real pipeline against a moto server over HTTP."""

from __future__ import annotations

import functools
import hashlib
import os
from typing import TYPE_CHECKING

import anyio
import pytest

from bridge import Stage, StageContext, StageFailed, run_pipeline
from steps import configure_step, to_stage
from steps.bytes.builtin import GUNZIP, GZIP, PASSTHROUGH
from storage_adapter import (
    MultipartWriter,
    ObjectChanged,
    ObjectInfo,
    RangedReader,
    StorageIO,
    StorageSettings,
    WriteResult,
)
from storage_adapter.reader import range_spans
from tests.support.storage import MiB

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

import logging

LOG = logging.LoggerAdapter(logging.getLogger("test"), {})


def _io(endpoint: str) -> StorageIO:
    return StorageIO.from_settings(StorageSettings(endpoint_url=endpoint, region="us-east-1"))


def _put_random(s3: S3Client, bucket: str, key: str, size: int) -> str:
    data = os.urandom(size)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    return hashlib.sha256(data).hexdigest()


def _sha256_of(s3: S3Client, bucket: str, key: str) -> str:
    digest = hashlib.sha256()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in iter(lambda: body.read(MiB), b""):
        digest.update(chunk)
    return digest.hexdigest()


async def _copy(endpoint: str, bucket: str, key: str, out: str, *steps: Stage) -> WriteResult:
    io = _io(endpoint)
    reader = RangedReader(io, bucket, key, chunk_size=4 * MiB)
    writer = MultipartWriter(io, bucket, out, part_size=5 * MiB)
    result = await run_pipeline([Stage("read", reader.run), *steps], writer)
    return result.output


def test_passthrough_copy_is_identical_and_multipart(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    digest = _put_random(s3, bucket, "in/big.bin", 64 * MiB)
    stage = to_stage(configure_step(PASSTHROUGH, {}), LOG)
    result = anyio.run(_copy, moto_endpoint, bucket, "in/big.bin", "out/big.bin", stage)
    assert result.size == 64 * MiB
    assert result.parts == 13
    assert result.etag is not None and result.etag.endswith("-13")
    assert _sha256_of(s3, bucket, "out/big.bin") == digest
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_gzip_then_gunzip_round_trip(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    digest = _put_random(s3, bucket, "in/data.bin", 64 * MiB)
    stages = [to_stage(configure_step(d, {}), LOG) for d in (GZIP, GUNZIP)]
    result = anyio.run(_copy, moto_endpoint, bucket, "in/data.bin", "out/data.bin", *stages)
    assert result.size == 64 * MiB
    assert _sha256_of(s3, bucket, "out/data.bin") == digest


def test_failing_step_leaves_nothing(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    _put_random(s3, bucket, "in/x.bin", 24 * MiB)

    async def explode_after_three(ctx: StageContext) -> None:
        seen = 0
        async for chunk in ctx.input:
            seen += 1
            if seen == 4:
                raise ValueError("boom on frame 4")
            await ctx.write(chunk)

    with pytest.raises(StageFailed) as caught:
        anyio.run(
            _copy,
            moto_endpoint,
            bucket,
            "in/x.bin",
            "out/x.bin",
            Stage("explode", explode_after_three),
        )
    assert caught.value.stage == "explode"
    assert isinstance(caught.value.error, ValueError)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="out/")
    assert listed.get("KeyCount", 0) == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_object_overwritten_while_read_fails_with_object_changed(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    _put_random(s3, bucket, "in/moving.bin", 24 * MiB)

    async def overwrite_after_first(ctx: StageContext) -> None:
        first = True
        async for chunk in ctx.input:
            if first:
                await anyio.to_thread.run_sync(
                    lambda: s3.put_object(Bucket=bucket, Key="in/moving.bin", Body=b"new")
                )
                first = False
            await ctx.write(chunk)

    async def copy() -> None:
        io = _io(moto_endpoint)
        reader = RangedReader(io, bucket, "in/moving.bin", chunk_size=1 * MiB, read_ahead=1)
        writer = MultipartWriter(io, bucket, "out/moving.bin", part_size=5 * MiB)
        await run_pipeline(
            [Stage("read", reader.run), Stage("overwrite", overwrite_after_first)], writer
        )

    with pytest.raises(StageFailed) as caught:
        anyio.run(copy)
    assert caught.value.stage == "read"
    assert isinstance(caught.value.error, ObjectChanged)
    assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount", 0) == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_first_answer_is_checked_before_any_byte_goes_on(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    data = os.urandom(3 * MiB)
    s3.put_object(
        Bucket=bucket, Key="in/tagged.bin", Body=data, ContentType="application/x-test",
        Metadata={"origin": "camera"},
    )  # fmt: skip
    head = s3.head_object(Bucket=bucket, Key="in/tagged.bin")
    seen: list[ObjectInfo] = []
    received: list[bytes] = []

    def refuse(info: ObjectInfo) -> None:
        seen.append(info)
        raise ValueError("refused")

    async def collect(ctx: StageContext) -> None:
        async for chunk in ctx.input:
            received.append(chunk)

    async def copy() -> None:
        reader = RangedReader(
            _io(moto_endpoint), bucket, "in/tagged.bin", etag=head["ETag"], size=len(data),
            chunk_size=1 * MiB,
        )  # fmt: skip
        writer = MultipartWriter(_io(moto_endpoint), bucket, "out/tagged.bin", part_size=5 * MiB)
        read = functools.partial(reader.run, check=refuse)
        await run_pipeline([Stage("read", read), Stage("collect", collect)], writer)

    with pytest.raises(StageFailed) as caught:
        anyio.run(copy)
    assert caught.value.stage == "read" and str(caught.value.error) == "refused"
    (info,) = seen
    assert (info.etag, info.size) == (head["ETag"].strip('"'), len(data))
    assert info.content_type == "application/x-test" and info.metadata == {"origin": "camera"}
    assert received == []
    assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount", 0) == 0


def test_range_failing_mid_body_once_is_retried(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    from tests.support.faults import Fault, Request, fault_proxy

    digest = _put_random(s3, bucket, "in/flaky.bin", 20 * MiB)
    failed_ranges: set[str] = set()

    def reset_each_range_once(request: Request) -> Fault | None:
        range_header = request.headers.get("Range")
        if request.method == "GET" and range_header and range_header not in failed_ranges:
            failed_ranges.add(range_header)
            return Fault(reset_after_bytes=1000)
        return None

    with fault_proxy(moto_endpoint, reset_each_range_once) as (url, log):
        result = anyio.run(_copy, url, bucket, "in/flaky.bin", "out/flaky.bin")
    assert len(log.injected) == len(range_spans(20 * MiB, 4 * MiB))  # each range failed once
    assert result.size == 20 * MiB
    assert _sha256_of(s3, bucket, "out/flaky.bin") == digest
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_server_ignoring_range_fails_clearly(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    from tests.support.faults import Fault, Request, fault_proxy

    _put_random(s3, bucket, "in/norange.bin", 6 * MiB)

    def drop_range(request: Request) -> Fault | None:
        return Fault(strip_headers=("Range",)) if request.method == "GET" else None

    with fault_proxy(moto_endpoint, drop_range) as (url, log), pytest.raises(StageFailed) as caught:
        anyio.run(_copy, url, bucket, "in/norange.bin", "out/norange.bin")
    assert log.injected
    assert caught.value.error.__class__.__name__ == "UnexpectedResponse"
    assert "206" in str(caught.value.error)
    assert s3.list_objects_v2(Bucket=bucket, Prefix="out/").get("KeyCount", 0) == 0


def test_complete_whose_answer_was_lost_is_recognised_on_retry(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    from tests.support.faults import Fault, Request, fault_proxy

    digest = _put_random(s3, bucket, "in/lost.bin", 11 * MiB)
    completes: list[str] = []

    def lose_then_forget(request: Request) -> Fault | None:
        if request.operation != "CompleteMultipartUpload":
            return None
        completes.append(request.path)
        if len(completes) == 1:
            return Fault(drop_response=True)  # the store completes, the answer is lost
        return Fault(status=404, error_code="NoSuchUpload")  # as a real store then answers

    with fault_proxy(moto_endpoint, lose_then_forget) as (url, _log):
        result = anyio.run(_copy, url, bucket, "in/lost.bin", "out/lost.bin")
    assert len(completes) >= 2
    assert result.size == 11 * MiB
    assert _sha256_of(s3, bucket, "out/lost.bin") == digest
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
