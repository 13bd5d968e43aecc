"""Multipart housekeeping against a real moto server: list, abort, completed-earlier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from storage_adapter import MultipartWriter, StorageIO, StorageSettings
from storage_adapter.client import ChecksumWhen
from storage_adapter.errors import BucketNotFound
from storage_adapter.uploads import (
    abort_open_uploads,
    abort_upload,
    abort_upload_by_id,
    completed_output,
    list_open_uploads,
)
from tests.support.engine import storage_io
from tests.support.storage import MiB

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _open(s3: S3Client, bucket: str, key: str) -> str:
    return s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]


def test_lists_uploads_of_exactly_one_key(s3: S3Client, bucket: str) -> None:
    mine = _open(s3, bucket, "out/a.jpg")
    _open(s3, bucket, "out/a.jpg.tmp")
    _open(s3, bucket, "other/b.jpg")
    assert [u.upload_id for u in list_open_uploads(s3, bucket, key="out/a.jpg")] == [mine]
    assert {u.key for u in list_open_uploads(s3, bucket, prefix="out/")} == {
        "out/a.jpg",
        "out/a.jpg.tmp",
    }
    assert len(list_open_uploads(s3, bucket)) == 3


def test_abort_keeps_the_named_upload_and_reports_what_it_aborted(
    s3: S3Client, bucket: str
) -> None:
    keep = _open(s3, bucket, "k")
    lost = _open(s3, bucket, "k")
    assert abort_open_uploads(s3, bucket, "k", keep=keep) == [lost]
    assert [u.upload_id for u in list_open_uploads(s3, bucket, key="k")] == [keep]


def test_aborting_a_gone_upload_is_done_not_an_error(s3: S3Client, bucket: str) -> None:
    upload_id = _open(s3, bucket, "k")
    assert abort_upload(s3, bucket, "k", upload_id) is True
    assert abort_upload(s3, bucket, "k", upload_id) is False


def test_abort_by_id_finds_the_key_when_it_is_unknown_or_wrong(s3: S3Client, bucket: str) -> None:
    upload_id = _open(s3, bucket, "renamed/key")
    assert abort_upload_by_id(s3, bucket, upload_id, key="template/changed") is True
    assert list_open_uploads(s3, bucket) == []
    assert abort_upload_by_id(s3, bucket, upload_id) is False


def test_completed_output_matches_marker_and_size(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"12345", Metadata={"bucketstream-execution": "e1"})
    found = completed_output(s3, bucket, "o", metadata={"bucketstream-execution": "e1"}, size=5)
    assert found is not None and found.size == 5 and found.etag
    assert completed_output(s3, bucket, "o", metadata={"bucketstream-execution": "e2"}) is None
    assert (
        completed_output(s3, bucket, "o", metadata={"bucketstream-execution": "e1"}, size=4) is None
    )
    assert completed_output(s3, bucket, "missing", metadata={}) is None


def test_errors_are_mapped_not_raw_botocore(s3: S3Client) -> None:
    with pytest.raises(BucketNotFound) as caught:
        list_open_uploads(s3, "no-such-bucket-here", key="k")
    assert "s3://no-such-bucket-here/k" in caught.value.message


@pytest.mark.anyio
async def test_write_all_takes_any_async_iterable(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    writer = MultipartWriter(storage_io(moto_endpoint), bucket, "big", part_size=5 * MiB)
    await writer.write_all(_mib_frames(11))
    result = await writer.commit()
    assert result.size == 11 * MiB and result.parts == 3
    body = s3.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert body == b"".join(bytes([i]) * MiB for i in range(11))
    assert list_open_uploads(s3, bucket) == []


async def _mib_frames(count: int) -> AsyncIterator[bytes]:
    """``count`` frames of 1 MiB, frame ``i`` made of the byte ``i``."""
    for index in range(count):
        yield bytes([index]) * MiB


async def _gzip_like_frames() -> AsyncIterator[bytes]:
    """Frames that do not divide a part: parts are cut across frames."""
    for index in range(9):
        yield bytes([index]) * (MiB + 12345)


@pytest.mark.anyio
@pytest.mark.parametrize("when", ["when_supported", "when_required"])
async def test_parts_cut_across_frames_carry_their_checksums_to_complete(
    s3: S3Client, bucket: str, moto_endpoint: str, when: ChecksumWhen
) -> None:
    io = StorageIO.from_settings(
        StorageSettings(
            endpoint_url=moto_endpoint, addressing_style="path", request_checksum_calculation=when
        )
    )
    writer = MultipartWriter(io, bucket, "cut", part_size=5 * MiB)
    await writer.write_all(_gzip_like_frames())
    result = await writer.commit()
    expected = b"".join([frame async for frame in _gzip_like_frames()])
    assert result.size == len(expected) and result.parts == 2
    assert s3.get_object(Bucket=bucket, Key="cut")["Body"].read() == expected
    head = s3.head_object(Bucket=bucket, Key="cut", ChecksumMode="ENABLED")
    if when == "when_supported":  # declared at create, each part's CRC32 listed at Complete
        assert writer.checksum_algorithm == "CRC32"
        assert head.get("ChecksumCRC32")
    else:  # a store that refuses checksums (OBS) is sent none it did not ask for
        assert writer.checksum_algorithm is None
        assert "ChecksumCRC32" not in head


@pytest.mark.anyio
async def test_parts_grow_so_an_output_of_unknown_size_never_runs_out_of_parts(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    writer = MultipartWriter(
        storage_io(moto_endpoint), bucket, "grown", part_size=5 * MiB, parts_per_size=2
    )
    await writer.write_all(_mib_frames(26))  # 26 MiB: parts of 5, 5, 10 MiB, then a 6 MiB tail
    result = await writer.commit()
    assert result.size == 26 * MiB and result.parts == 4
    sizes = [
        s3.head_object(Bucket=bucket, Key="grown", PartNumber=number)["ContentLength"]
        for number in range(1, 5)
    ]
    assert sizes == [5 * MiB, 5 * MiB, 10 * MiB, 6 * MiB]
    body = s3.get_object(Bucket=bucket, Key="grown")["Body"].read()
    assert body == b"".join(bytes([i]) * MiB for i in range(26))
    assert list_open_uploads(s3, bucket) == []
