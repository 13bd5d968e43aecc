"""Fixtures of the reliability suite: a versioned bucket, a moto server in its own process."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.support.waiting import wait_for
from trigger_service.cli.embedded import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

#: The moto server's request log (one line per request) drowns everything else.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture
def versioned_bucket(s3: S3Client) -> str:
    """A new bucket on the moto server with versioning enabled."""
    name = f"versioned-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture(scope="module")
def moto_process() -> Iterator[str]:
    """URL of a moto server (S3 + SQS) in its own process, on a free loopback port.

    Load tests use it so that the store does not compete with the service (or the test) for
    one interpreter lock, and so that the service's memory is measured without the store's.
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        assert process.poll() is None, "the moto server exited"
        try:
            return httpx.get(f"{url}/moto-api/", timeout=2).status_code < 500
        except httpx.TransportError:
            return False

    try:
        wait_for(answering, within=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def process_s3(moto_process: str) -> S3Client:
    """An S3 client for :func:`moto_process`."""
    return boto3.client(
        "s3",
        endpoint_url=moto_process,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
    )


@pytest.fixture(scope="module")
def process_sqs(moto_process: str) -> SQSClient:
    """An SQS client for :func:`moto_process`."""
    return boto3.client("sqs", endpoint_url=moto_process, region_name="us-east-1")
