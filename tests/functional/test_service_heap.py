"""``freeze_heap``: the start-up objects leave the garbage collector while the service runs.

The freeze is process-wide, so each test checks it is undone when the service stops.
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from tests.support.service import archive_workflows, config, running, s3_notification, wait_final

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


class _Node:
    """An object that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    return weakref.ref(first)


async def test_a_frozen_service_still_runs_executions_and_collects_new_garbage(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    before = _cycle()  # start-up garbage: collected before the freeze, not frozen alive
    etag = s3.put_object(Bucket=bucket, Key="incoming/a.txt", Body=b"a" * 1000)["ETag"]
    cfg = replace(config(moto_endpoint, archive_workflows(bucket)), freeze_heap=True)
    async with running(cfg) as (_, client):
        assert gc.get_freeze_count() > 0
        assert before() is None
        after = _cycle()
        gc.collect()
        assert after() is None  # what is made afterwards is collected as usual
        notification = s3_notification(bucket, "incoming/a.txt", etag=etag.strip('"'))
        response = await client.post("/events", json=notification)
        assert response.status_code == 202, response.text
        final = await wait_final(client, response.json()["executions"][0]["id"])
        assert final["status"] == "succeeded", final["error"]
    assert gc.get_freeze_count() == 0


async def test_the_heap_is_left_alone_by_default(bucket: str, moto_endpoint: str) -> None:
    async with running(config(moto_endpoint, archive_workflows(bucket))):
        assert gc.get_freeze_count() == 0
