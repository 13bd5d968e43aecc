"""``trigger_service.handler`` as Lambda and FunctionGraph call it, against a moto server."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import pytest

import trigger_service
from tests.support.storage import MiB, keys_under, open_uploads, read_object
from trigger_service.errors import MalformedEvent, TransientFailure, WorkflowConfigError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

handler_module = sys.modules["trigger_service.handler"]


class LambdaContext:
    """What Lambda passes: the remaining time counts down from ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.aws_request_id = "3f1c4a5e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class FunctionGraphContext:
    """What FunctionGraph's Python runtime passes (its method names)."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def getRemainingTimeInMilliSeconds(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))

    def getRequestID(self) -> str:
        return "0b5c7f3e2a"


@pytest.fixture
def function_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_endpoint: str, bucket: str
) -> Path:
    """A workflow file packaged 'with the function', and the function's environment."""
    config = {
        "workflows": {
            "archive": {
                "trigger": {"bucket": bucket, "prefix": "logs/", "suffix": ".log"},
                "steps": [{"gzip": {"level": 1}}],
                "output": {"bucket": bucket, "key": "archive/{name}.gz"},
            },
            "errors": {
                "trigger": {"bucket": bucket, "prefix": "logs/", "suffix": ".log"},
                "steps": [{"lines": {"match": "ERROR"}}],
                "output": {"bucket": bucket, "key": "errors/{name}"},
            },
            "slow": {
                "trigger": {"bucket": bucket, "prefix": "slow/"},
                "steps": ["tests.support.fakes:crawl"],
                "output": {"bucket": bucket, "key": "slow-out/{name}"},
            },
        }
    }
    path = tmp_path / "workflows.yaml"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("BUCKETSTREAM_WORKFLOWS", str(path))
    monkeypatch.setenv("BUCKETSTREAM_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("BUCKETSTREAM_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("BUCKETSTREAM_CHUNK_SIZE", str(MiB))
    monkeypatch.setenv("BUCKETSTREAM_PART_SIZE", str(5 * MiB))
    return path


def s3_event(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """An S3 ObjectCreated:Put event as Lambda receives it."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-12-01T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "198.51.100.7"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHv",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "bucketstream",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key),
                        "size": size,
                        "eTag": etag,
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def obs_trigger_event(bucket: str, key: str, size: int, etag: str) -> dict[str, Any]:
    """An OBS trigger event as FunctionGraph passes it to a function."""
    return {
        "Records": [
            {
                "eventVersion": "3.0",
                "eventSource": "aws:s3",
                "eventRegion": "cn-north-4",
                "eventTime": "2026-12-01T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "9bf43789b1ff4b679040f35cc4f0dc05"},
                "requestParameters": {"sourceIPAddress": "103.218.216.125"},
                "responseElements": {
                    "x-obs-request-id": "0000018A2B6A5E3C9C1A2E3F4F5A6B7C",
                    "x-obs-id-2": "32AAAUJAIAABAAAQAAEAABAAAQAAEAABCSmx2VLPEcHdH8sB8Bq2e6aOhwHP",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "UK1DGFPYUKUZFHNQ00000000000000",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"PrincipalId": "9bf43789b1ff4b679040f35cc4f0dc05"},
                        "bucket": bucket,
                    },
                    "object": {
                        "key": quote_plus(key),
                        "eTag": etag,
                        "size": size,
                        "versionId": "null",
                        "sequencer": "0000000018A2B6A5E3C9C1A2E00000000",
                    },
                },
            }
        ]
    }


def put(s3: S3Client, bucket: str, key: str, body: bytes) -> tuple[int, str]:
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
    return len(body), etag


LOG = b"".join(b"ERROR disk %d\n" % i if i % 5 == 0 else b"INFO ok %d\n" % i for i in range(20_000))


def test_lambda_s3_event_runs_every_matching_workflow(
    s3: S3Client, bucket: str, function_env: Path
) -> None:
    size, etag = put(s3, bucket, "logs/app 1.log", LOG)
    data = read_object(s3, bucket, "logs/app 1.log")
    answer = trigger_service.handler(
        s3_event(bucket, "logs/app 1.log", size, etag), LambdaContext(60)
    )
    json.dumps(answer)  # the platform serialises the answer
    runs = {r["workflow"]: r for r in answer["executions"]}
    assert set(runs) == {"archive", "errors"}
    assert {r["status"] for r in runs.values()} == {"succeeded"}
    assert runs["archive"]["input"]["etag"] == etag
    assert gzip.decompress(read_object(s3, bucket, "archive/app 1.log.gz")) == data
    errors = read_object(s3, bucket, "errors/app 1.log")
    assert errors.count(b"\n") == 4000 and b"INFO" not in errors
    lines = next(s for s in runs["errors"]["steps"] if s["name"] == "lines")
    assert lines["details"] == {"lines_in": 20_000, "lines_out": 4000}
    assert answer["ignored"] == []


def test_functiongraph_obs_trigger_event(s3: S3Client, bucket: str, function_env: Path) -> None:
    size, etag = put(s3, bucket, "logs/fg.log", b"ERROR one\nINFO two\n")
    event = obs_trigger_event(bucket, "logs/fg.log", size, etag)
    answer = trigger_service.handler(event, FunctionGraphContext(60))
    assert sorted(r["status"] for r in answer["executions"]) == ["succeeded", "succeeded"]
    assert read_object(s3, bucket, "errors/fg.log") == b"ERROR one\n"


def test_sqs_triggered_lambda_and_outputs_are_ignored(
    s3: S3Client, bucket: str, function_env: Path
) -> None:
    size, etag = put(s3, bucket, "logs/q.log", b"ERROR q\n")
    notification = json.dumps(s3_event(bucket, "logs/q.log", size, etag))
    event = {
        "Records": [
            {
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": notification,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(notification.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uploads",
                "awsRegion": "us-east-1",
            }
        ]
    }
    event["Records"].append(
        {**event["Records"][0], "messageId": "bad-body", "body": "not a notification"}
    )
    answer = trigger_service.handler(event, LambdaContext(60))
    assert len(answer["executions"]) == 2
    assert answer["batchItemFailures"] == []
    assert [i["reason"] for i in answer["ignored"]] == ["malformed_event"]
    # The output in archive/ is not under the trigger prefix; one under it that an execution
    # wrote is ignored, never processed again.
    body = read_object(s3, bucket, "errors/q.log")
    s3.put_object(
        Bucket=bucket,
        Key="logs/written.log",
        Body=body,
        Metadata={"bucketstream-execution": "earlier"},
    )
    again = trigger_service.handler(
        s3_event(bucket, "logs/written.log", len(body), ""), LambdaContext(60)
    )
    assert again["executions"] == []
    assert {i["reason"] for i in again["ignored"]} == {"execution_output"}
    assert "batchItemFailures" not in again  # not an SQS invocation


def test_sqs_message_of_a_transient_failure_is_reported_for_redelivery(
    s3: S3Client, bucket: str, function_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler_module, "ABORT_MARGIN_SECONDS", 0.5)
    size, etag = put(s3, bucket, "slow/q.bin", os.urandom(6 * MiB))
    body = json.dumps(s3_event(bucket, "slow/q.bin", size, etag))
    event = {"Records": [{"messageId": "m-1", "eventSource": "aws:sqs", "body": body}]}
    answer = trigger_service.handler(event, LambdaContext(2))
    assert answer["executions"][0]["error"]["code"] == "Timeout"
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m-1"}]
    assert open_uploads(s3, bucket) == []


def test_a_routing_storage_error_reports_only_its_own_message(
    s3: S3Client,
    bucket: str,
    function_env: Path,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support.faults import Fault, Request, fault_proxy

    def decide(request: Request) -> Fault | None:
        if request.method == "HEAD" and request.path.startswith(f"/{bucket}/logs/bad.log"):
            return Fault(status=503, error_code="SlowDown")
        return None

    good_size, good_etag = put(s3, bucket, "logs/good.log", b"fine\n")
    bad_size, bad_etag = put(s3, bucket, "logs/bad.log", b"ERROR\n")
    messages = [
        ("m-good", s3_event(bucket, "logs/good.log", good_size, good_etag)),
        ("m-bad", s3_event(bucket, "logs/bad.log", bad_size, bad_etag)),
    ]
    event = {
        "Records": [
            {"messageId": m, "eventSource": "aws:sqs", "body": json.dumps(body)}
            for m, body in messages
        ]
    }
    with fault_proxy(moto_endpoint, decide) as (proxy, _):
        monkeypatch.setenv("BUCKETSTREAM_ENDPOINT_URL", proxy)
        answer = trigger_service.handler(event, LambdaContext(60))
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m-bad"}]
    assert {r["status"] for r in answer["executions"]} == {"succeeded"}
    assert len(answer["executions"]) == 2  # both workflows of the good message ran once


def test_remaining_time_bounds_the_execution(
    s3: S3Client, bucket: str, function_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler_module, "ABORT_MARGIN_SECONDS", 0.5)
    size, etag = put(s3, bucket, "slow/big.bin", os.urandom(8 * MiB))
    started = time.monotonic()
    with pytest.raises(TransientFailure) as raised:  # a direct trigger: the platform retries
        trigger_service.handler(s3_event(bucket, "slow/big.bin", size, etag), LambdaContext(2.5))
    assert time.monotonic() - started < 2.5
    (record,) = raised.value.records
    assert record["status"] == "failed"
    assert record["error"]["code"] == "Timeout"
    assert "remaining time" in record["error"]["message"]
    assert keys_under(s3, bucket, "slow-out/") == []
    assert open_uploads(s3, bucket) == []


def test_no_time_left_runs_nothing(s3: S3Client, bucket: str, function_env: Path) -> None:
    size, etag = put(s3, bucket, "logs/late.log", b"ERROR\n")
    with pytest.raises(TransientFailure, match="failed transiently") as raised:
        trigger_service.handler(s3_event(bucket, "logs/late.log", size, etag), LambdaContext(1))
    assert [r["error"]["code"] for r in raised.value.records] == ["Timeout", "Timeout"]
    assert keys_under(s3, bucket, "errors/") == []


def test_bad_events_and_settings(function_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MalformedEvent, match="Records"):
        trigger_service.handler({"Records": [{"s3": {}}]}, LambdaContext(60))
    with pytest.raises(TypeError, match="getRemainingTimeInMilliSeconds"):
        trigger_service.handler({"Records": []}, object())
    monkeypatch.delenv("BUCKETSTREAM_WORKFLOWS")
    with pytest.raises(WorkflowConfigError, match="BUCKETSTREAM_WORKFLOWS is not set"):
        trigger_service.handler({"Records": []}, LambdaContext(60))
    monkeypatch.setenv("BUCKETSTREAM_WORKFLOWS", str(function_env.parent / "absent.yaml"))
    with pytest.raises(WorkflowConfigError, match="cannot read workflow file"):
        trigger_service.handler({"Records": []}, LambdaContext(60))


def test_a_relative_workflow_path_is_found_at_the_zip_root(
    s3: S3Client,
    bucket: str,
    function_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(handler_module, "CODE_ROOT", function_env.parent)
    monkeypatch.setenv("BUCKETSTREAM_WORKFLOWS", function_env.name)
    monkeypatch.chdir(tmp_path.parent)  # the working directory does not hold the file
    size, etag = put(s3, bucket, "logs/rel.log", b"ERROR rel\n")
    answer = trigger_service.handler(
        s3_event(bucket, "logs/rel.log", size, etag), LambdaContext(60)
    )
    assert [r["status"] for r in answer["executions"]] == ["succeeded", "succeeded"]
