"""Byte workflows end to end against a moto server: encrypt/decrypt, lines, zstd, gunzip.

Every bad input ends as a failed execution with a typed error code, no output object and no
multipart upload left open.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from steps.bytes.zstd import codec
from storage_adapter import TransferSettings
from tests.support.engine import engine, execute, flows
from tests.support.storage import MiB, keys_under, open_uploads, read_object
from trigger_service.errors import WorkflowConfigError
from trigger_service.records import ExecutionRecord, ExecutionStatus

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KEY = os.urandom(32)
#: 1 MiB ranges (moto answers each GET slowly), the smallest part size: 6 MiB goes multipart.
TRANSFER = TransferSettings(chunk_size=MiB, read_ahead=2, part_size=5 * MiB, parts_in_flight=2)


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYTES_TEST_KEY", base64.b64encode(KEY).decode())
    monkeypatch.setenv("BYTES_OTHER_KEY", base64.b64encode(os.urandom(32)).decode())


def run(endpoint: str, bucket: str, steps: list[Any], key: str, out: str) -> ExecutionRecord:
    workflow = flows(
        {
            "w": {
                "trigger": {"bucket": bucket, "prefix": "in/"},
                "steps": steps,
                "output": {"bucket": bucket, "key": out + "{name}"},
            }
        }
    ).get("w")
    return anyio.run(execute, engine(endpoint, TRANSFER), workflow, bucket, key)


def assert_failed_cleanly(
    record: ExecutionRecord, s3: S3Client, bucket: str, code: str, prefix: str
) -> None:
    assert record.status is ExecutionStatus.FAILED, record.public()
    assert record.error is not None and record.error.code == code, record.error
    assert keys_under(s3, bucket, prefix) == []
    assert open_uploads(s3, bucket) == []


def test_encrypt_then_decrypt_round_trip_over_multipart(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    data = os.urandom(6 * MiB + 123)
    s3.put_object(Bucket=bucket, Key="in/secret.bin", Body=data)
    encrypt = {"encrypt": {"key_env": "BYTES_TEST_KEY", "key_id": "k1"}}
    record = run(moto_endpoint, bucket, [encrypt], "in/secret.bin", "sealed/")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    sealed = read_object(s3, bucket, "sealed/secret.bin")
    assert sealed[:4] == b"BSEC" and data[:4096] not in sealed
    assert base64.b64encode(KEY).decode() not in json.dumps(record.public())
    s3.put_object(Bucket=bucket, Key="in/secret.bin.enc", Body=sealed)
    decrypt = {"decrypt": {"key_env": "BYTES_TEST_KEY"}}
    record = run(moto_endpoint, bucket, [decrypt], "in/secret.bin.enc", "plain/")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert read_object(s3, bucket, "plain/secret.bin.enc") == data


@pytest.mark.parametrize(
    ("damage", "key_env", "code"),
    [
        ("flip-late", "BYTES_TEST_KEY", "DecryptionFailed"),
        ("truncate", "BYTES_TEST_KEY", "DecryptionFailed"),
        ("none", "BYTES_OTHER_KEY", "WrongKey"),
        ("plain", "BYTES_TEST_KEY", "InvalidEncryptedData"),
    ],
)
def test_bad_ciphertext_fails_with_no_output_and_no_open_upload(
    s3: S3Client, bucket: str, moto_endpoint: str, damage: str, key_env: str, code: str
) -> None:
    data = os.urandom(6 * MiB + 10 if damage in {"flip-late", "truncate"} else 100_000)
    s3.put_object(Bucket=bucket, Key="in/p.bin", Body=data)
    encrypt = {"encrypt": {"key_env": "BYTES_TEST_KEY"}}
    assert run(moto_endpoint, bucket, [encrypt], "in/p.bin", "sealed/").status.value == "succeeded"
    sealed = bytearray(read_object(s3, bucket, "sealed/p.bin"))
    if damage == "flip-late":
        sealed[-100] ^= 0x40  # in the last chunk: parts are uploaded before it is read
    elif damage == "truncate":
        del sealed[-(1024 * 1024 + 16) :]
    elif damage == "plain":
        sealed = bytearray(data)
    s3.put_object(Bucket=bucket, Key="in/p.enc", Body=bytes(sealed))
    decrypt = {"decrypt": {"key_env": key_env}}
    record = run(moto_endpoint, bucket, [decrypt], "in/p.enc", "plain/")
    assert_failed_cleanly(record, s3, bucket, code, "plain/")
    assert record.error is not None and record.error.step == "decrypt"


def test_log_workflow_gunzip_lines_gzip(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    rows = [{"level": ["INFO", "ERROR", "DEBUG", "FATAL"][i % 4], "n": i} for i in range(60_000)]
    text = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    half = len(text) // 2
    body = gzip.compress(text[:half]) + gzip.compress(text[half:])  # two members
    s3.put_object(Bucket=bucket, Key="in/app.log.gz", Body=body)
    steps = ["gunzip", {"lines": {"field": "level", "in": ["ERROR", "FATAL"]}}, "gzip"]
    record = run(moto_endpoint, bucket, steps, "in/app.log.gz", "errors/")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    kept = gzip.decompress(read_object(s3, bucket, "errors/app.log.gz")).splitlines()
    assert len(kept) == 30_000
    assert {json.loads(line)["level"] for line in kept} == {"ERROR", "FATAL"}
    lines_step = next(step for step in record.steps if step.name == "lines")
    assert lines_step.details["lines_in"] == 60_000
    assert lines_step.details["lines_out"] == 30_000


def test_lines_with_regex_on_plain_text(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    text = b"".join(b"GET /health 200\r\n" if i % 3 else b"POST /api 500\r\n" for i in range(999))
    s3.put_object(Bucket=bucket, Key="in/access.log", Body=text + b"tail 500")
    steps = [{"lines": {"match": " 5\\d\\d\\b", "exclude": "health"}}]
    record = run(moto_endpoint, bucket, steps, "in/access.log", "5xx/")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert read_object(s3, bucket, "5xx/access.log") == b"POST /api 500\r\n" * 333 + b"tail 500"


def test_invalid_regex_is_refused_when_the_workflow_loads(bucket: str) -> None:
    with pytest.raises(WorkflowConfigError, match=r"steps\[0\]: lines.match"):
        flows(
            {
                "w": {
                    "trigger": {"bucket": bucket, "prefix": "in/"},
                    "steps": [{"lines": {"match": "([unclosed"}}],
                    "output": {"bucket": bucket, "key": "out/{name}"},
                }
            }
        )


def test_lines_timeout_fails_cleanly(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    s3.put_object(Bucket=bucket, Key="in/evil.log", Body=b"ok\n" * 10 + b"a" * 60 + b"!\n")
    steps = [{"lines": {"match": "^(a|aa)+$", "pattern_timeout": 0.05}}]
    record = run(moto_endpoint, bucket, steps, "in/evil.log", "evil/")
    assert_failed_cleanly(record, s3, bucket, "PatternTimeout", "evil/")


def test_zstd_then_unzstd(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    data = os.urandom(MiB) + bytes(6 * MiB)
    s3.put_object(Bucket=bucket, Key="in/d.bin", Body=data)
    record = run(moto_endpoint, bucket, [{"zstd": {"level": 3, "threads": 2}}], "in/d.bin", "z/")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    compressed = read_object(s3, bucket, "z/d.bin")
    assert codec.decompress(compressed) == data
    s3.put_object(Bucket=bucket, Key="in/d.zst", Body=compressed)
    record = run(moto_endpoint, bucket, ["unzstd"], "in/d.zst", "u/")
    assert record.status is ExecutionStatus.SUCCEEDED, record.error
    assert read_object(s3, bucket, "u/d.zst") == data


def test_corrupt_zstd_fails_cleanly(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    checksum: dict[int, int] = {codec.CompressionParameter.checksum_flag: 1}
    compressed = bytearray(codec.compress(os.urandom(6 * MiB), options=checksum))
    compressed[-5000] ^= 0xFF
    s3.put_object(Bucket=bucket, Key="in/bad.zst", Body=bytes(compressed))
    record = run(moto_endpoint, bucket, ["unzstd"], "in/bad.zst", "u/")
    assert_failed_cleanly(record, s3, bucket, "InvalidCompressedData", "u/")


def test_truncated_gzip_fails_cleanly(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    body = gzip.compress(os.urandom(6 * MiB), compresslevel=1)
    s3.put_object(Bucket=bucket, Key="in/cut.gz", Body=body[: len(body) - 1000])
    record = run(moto_endpoint, bucket, ["gunzip"], "in/cut.gz", "g/")
    assert_failed_cleanly(record, s3, bucket, "InvalidCompressedData", "g/")


def test_workflow_timeout_is_a_typed_timeout_with_nothing_left(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="in/slow.bin", Body=os.urandom(6 * MiB + 1))
    workflow = flows(
        {
            "w": {
                "trigger": {"bucket": bucket, "prefix": "in/"},
                "steps": ["tests.support.fakes:crawl"],
                "output": {"bucket": bucket, "key": "slow/{name}"},
                "timeout_seconds": 1.5,
            }
        }
    ).get("w")
    record = anyio.run(execute, engine(moto_endpoint, TRANSFER), workflow, bucket, "in/slow.bin")
    assert_failed_cleanly(record, s3, bucket, "Timeout", "slow/")
    assert record.error is not None and record.error.transient
    assert "timeout_seconds (1.5 s)" in record.error.message
