"""Fixtures for the integration tests, which run against a real LocalStack (S3 + SQS).

LocalStack is started by ``bash localstack/run-tests.sh <command>`` (what ``make test`` and CI
use), or by hand with ``bash localstack/start.sh``; either way the tests find it through
``BUCKETSTREAM_LOCALSTACK_URL``. Without a reachable LocalStack every integration test is
skipped with the reason, so the rest of the suite still runs on a machine without it; with
``BUCKETSTREAM_LOCALSTACK_REQUIRED=1`` (set by run-tests.sh under CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import boto3
import pytest
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

ENDPOINT_ENV = "BUCKETSTREAM_LOCALSTACK_URL"
REQUIRED_ENV = "BUCKETSTREAM_LOCALSTACK_REQUIRED"
# Set by run-tests.sh when it could not install or start LocalStack: the reason to report.
UNAVAILABLE_ENV = "BUCKETSTREAM_LOCALSTACK_UNAVAILABLE"
REGION = "us-east-1"
REQUIRED_SERVICES = ("s3", "sqs")
HEALTH_TIMEOUT_SECONDS = 2.0
HOW_TO_START = (
    "run the tests through `bash localstack/run-tests.sh <command>`, or start LocalStack with "
    f"`bash localstack/start.sh` and export {ENDPOINT_ENV}=http://127.0.0.1:4566"
)

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration with ``integration``.

    This hook sees the items of the whole session, so it only marks those in this directory.
    """
    for item in items:
        if item.path.resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


def _health_problem(endpoint: str) -> str | None:
    """Why ``endpoint`` cannot serve the tests, or None when S3 and SQS are up."""
    url = endpoint.rstrip("/") + "/_localstack/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_SECONDS) as response:
            body = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"LocalStack at {endpoint} is unreachable ({url}: {exc})"
    services = body.get("services", {}) if isinstance(body, dict) else {}
    down = {
        name: services.get(name, "missing")
        for name in REQUIRED_SERVICES
        if services.get(name) not in ("available", "running")
    }
    if down:
        return f"LocalStack at {endpoint} is up but not serving {down}"
    return None


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get(REQUIRED_ENV, "").strip() in ("1", "true"):
        pytest.fail(f"{reason} (and {REQUIRED_ENV} is set)", pytrace=False)
    if not os.environ.get(UNAVAILABLE_ENV):
        reason = f"{reason}: {HOW_TO_START}"
    pytest.skip(reason)


@pytest.fixture(scope="session")
def localstack_endpoint() -> str:
    """The LocalStack gateway URL; skips the test when there is none to use."""
    endpoint = os.environ.get(ENDPOINT_ENV, "").strip()
    if not endpoint:
        _unavailable(os.environ.get(UNAVAILABLE_ENV) or f"{ENDPOINT_ENV} is not set")
    problem = _health_problem(endpoint)
    if problem is not None:
        _unavailable(problem)
    return endpoint.rstrip("/")


@pytest.fixture(scope="session")
def localstack_s3(localstack_endpoint: str) -> S3Client:
    """A boto3 S3 client for LocalStack, with path-style addressing."""
    return boto3.client(
        "s3",
        endpoint_url=localstack_endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
    )


@pytest.fixture(scope="session")
def localstack_sqs(localstack_endpoint: str) -> SQSClient:
    """A boto3 SQS client for LocalStack."""
    return boto3.client(
        "sqs",
        endpoint_url=localstack_endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard"}),
    )
