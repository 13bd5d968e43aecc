"""payload_signing: part bodies hashed into the signature or sent UNSIGNED-PAYLOAD."""

from __future__ import annotations

from typing import Any

import pytest

from storage_adapter.client import PayloadSigning, StorageSettings, make_s3_client
from trigger_service.environment import storage_from_env


@pytest.mark.parametrize(
    ("signing", "expected"),
    [("auto", "hashed"), ("on", "hashed"), ("off", "UNSIGNED-PAYLOAD")],
)
def test_payload_signing_over_http(
    moto_endpoint: str, bucket: str, signing: PayloadSigning, expected: str
) -> None:
    client = make_s3_client(
        StorageSettings(endpoint_url=moto_endpoint, region="us-east-1", payload_signing=signing)
    )
    seen: list[str] = []

    def record(request: Any, **_: Any) -> None:
        seen.append(request.headers["X-Amz-Content-SHA256"])

    client.meta.events.register("before-send.s3.UploadPart", record)
    upload = client.create_multipart_upload(Bucket=bucket, Key="signed.bin")
    part = client.upload_part(
        Bucket=bucket, Key="signed.bin", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    client.complete_multipart_upload(
        Bucket=bucket,
        Key="signed.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    header = seen[0] if isinstance(seen[0], str) else seen[0].decode()
    if expected == "hashed":
        assert len(header) == 64 and header != "UNSIGNED-PAYLOAD"  # hex SHA-256 of the body
    else:
        assert header == expected
    assert client.get_object(Bucket=bucket, Key="signed.bin")["Body"].read() == b"x" * 1024


def test_payload_signing_from_the_environment() -> None:
    assert storage_from_env({"BUCKETSTREAM_PAYLOAD_SIGNING": "off"}).payload_signing == "off"
    assert storage_from_env({}).payload_signing == "auto"
    with pytest.raises(ValueError, match="BUCKETSTREAM_PAYLOAD_SIGNING"):
        storage_from_env({"BUCKETSTREAM_PAYLOAD_SIGNING": "sometimes"})
