"""Fresh outputs: A written again after B is processed again, a duplicate event is not."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

import anyio
import pytest

from tests.support.service import (
    archive_workflows,
    config,
    dumps,
    running,
    s3_notification,
    wait_final,
)
from tests.support.storage import read_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


async def test_a_then_b_then_a_again_ends_with_the_output_of_a(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    key = "incoming/aba.txt"
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (_, client):
        seen: list[str] = []
        for body in (b"A" * 1000, b"B" * 1000, b"A" * 1000):
            etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
            event = s3_notification(bucket, key, etag=etag, size=len(body))
            answer = await client.post("/events", content=dumps(event))
            assert answer.status_code == 202, answer.text
            execution = answer.json()["executions"][0]
            assert (await wait_final(client, execution["id"]))["status"] == "succeeded"
            seen.append(execution["id"])
            # Last-Modified has whole seconds: the next write must fall in a later one.
            await anyio.sleep(1.1)
        assert len(set(seen)) == 3  # the third event is a new write, not a duplicate
        redelivered = await client.post("/events", content=dumps(event))
        assert redelivered.json()["executions"][0]["id"] == seen[-1]
        assert redelivered.json()["duplicates"] == [seen[-1]]
    assert gzip.decompress(read_object(s3, bucket, "archived/incoming/aba.txt.gz")) == b"A" * 1000
