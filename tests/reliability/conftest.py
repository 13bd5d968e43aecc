"""Fixtures of the reliability suite: the asyncio backend and a versioned bucket."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: The moto server's request log (one line per request) drowns everything else.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def versioned_bucket(s3: S3Client) -> str:
    """A new bucket on the moto server with versioning enabled."""
    name = f"versioned-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name
