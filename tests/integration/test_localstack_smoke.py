"""Smoke test: LocalStack serves what bucketstream relies on.

Bucket + object, ranged GET, an SQS queue, and an ``s3:ObjectCreated:*`` notification from
the bucket to the queue that delivers an S3 event record.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

EVENT_WAIT_SECONDS = 30.0


@pytest.fixture
def bucket(localstack_s3: S3Client) -> Iterator[str]:
    name = f"bucketstream-smoke-{uuid.uuid4().hex[:12]}"
    localstack_s3.create_bucket(Bucket=name)
    yield name
    listed = localstack_s3.list_objects_v2(Bucket=name)
    for obj in listed.get("Contents", []):
        localstack_s3.delete_object(Bucket=name, Key=obj["Key"])
    localstack_s3.delete_bucket(Bucket=name)


@pytest.fixture
def queue_url(localstack_sqs: SQSClient) -> Iterator[str]:
    url = localstack_sqs.create_queue(QueueName=f"bucketstream-smoke-{uuid.uuid4().hex[:12]}")[
        "QueueUrl"
    ]
    yield url
    localstack_sqs.delete_queue(QueueUrl=url)


def _receive_s3_records(sqs: SQSClient, queue_url: str, deadline: float) -> list[dict[str, Any]]:
    """S3 event records from the queue, skipping the s3:TestEvent S3 sends first."""
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            body = json.loads(message["Body"])
            records: list[dict[str, Any]] = body.get("Records", [])
            if records:
                return records
    return []


def test_ranged_get(localstack_s3: S3Client, bucket: str) -> None:
    data = bytes(range(256)) * 16
    localstack_s3.put_object(Bucket=bucket, Key="data.bin", Body=data)

    response = localstack_s3.get_object(Bucket=bucket, Key="data.bin", Range="bytes=100-199")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert response["ContentRange"] == f"bytes 100-199/{len(data)}"
    assert response["Body"].read() == data[100:200]


def test_object_created_notification_reaches_sqs(
    localstack_s3: S3Client, localstack_sqs: SQSClient, bucket: str, queue_url: str
) -> None:
    queue_arn = localstack_sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
            }
        ],
    }
    localstack_sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)}
    )
    localstack_s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    localstack_s3.put_object(Bucket=bucket, Key="incoming/photo.jpg", Body=b"not really a jpeg")

    records = _receive_s3_records(localstack_sqs, queue_url, time.monotonic() + EVENT_WAIT_SECONDS)
    assert records, f"no S3 event reached the queue within {EVENT_WAIT_SECONDS:.0f} s"
    assert records[0]["eventName"].startswith("ObjectCreated:")
    assert records[0]["s3"]["bucket"]["name"] == bucket
    assert records[0]["s3"]["object"]["key"] == "incoming/photo.jpg"
