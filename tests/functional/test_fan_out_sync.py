"""Synchronous executions of a fan-out workflow: ``?output=NAME`` picks the branch streamed."""

from __future__ import annotations

import gzip
import os
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.service import config, running
from tests.support.storage import MiB, keys_under, open_uploads
from trigger_service.workflows.model import Workflows, parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


def _flows(bucket: str) -> Workflows:
    return parse_workflows(
        {
            "workflows": {
                "fan": {
                    "trigger": {"bucket": bucket, "prefix": "incoming/"},
                    "outputs": [
                        {"name": "zip", "steps": [{"gzip": {"level": 1}}], "key": "z/{name}.gz"},
                        {
                            "name": "copy",
                            "steps": ["passthrough"],
                            "key": "c/{name}",
                            "content_type": "application/x-copy",
                        },
                    ],
                }
            }
        }
    )


async def _record(client: Any, execution_id: str) -> dict[str, Any]:
    answer = await client.get(f"/executions/{execution_id}")
    assert answer.status_code == 200
    record: dict[str, Any] = answer.json()
    return record


async def test_output_picks_the_branch_streamed_back_and_the_others_are_written(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    payload = os.urandom(3 * MiB)
    s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=payload)
    async with running(config(moto_endpoint, _flows(bucket))) as (_, client):
        response = await client.post(
            "/workflows/fan/sync-executions",
            params={"output": "copy"},
            json={"bucket": bucket, "key": "incoming/x.bin"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-copy"
        assert response.content == payload
        record = await _record(client, response.headers["x-execution-id"])
        assert record["status"] == "succeeded" and record["output"] is None
        assert [(o["name"], o["key"]) for o in record["outputs"]] == [
            ("zip", "z/x.bin.gz"),
            ("copy", "c/x.bin"),
        ]
        zipped = s3.get_object(Bucket=bucket, Key="z/x.bin.gz")["Body"].read()
        assert gzip.decompress(zipped) == payload

        default = await client.post(
            "/workflows/fan/sync-executions", json={"bucket": bucket, "key": "incoming/x.bin"}
        )
        assert gzip.decompress(default.content) == payload  # the first output by default


async def test_store_false_runs_only_the_branch_streamed_back(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    payload = os.urandom(MiB)
    s3.put_object(Bucket=bucket, Key="incoming/y.bin", Body=payload)
    async with running(config(moto_endpoint, _flows(bucket))) as (_, client):
        response = await client.post(
            "/workflows/fan/sync-executions",
            params={"output": "zip", "store": "false"},
            json={"bucket": bucket, "key": "incoming/y.bin"},
        )
        assert response.status_code == 200
        assert gzip.decompress(response.content) == payload
        record = await _record(client, response.headers["x-execution-id"])
        assert record["status"] == "succeeded" and record["outputs"] is None
        assert [s["name"] for s in record["steps"]] == ["read", "tee", "zip.gzip", "zip.respond"]
        assert keys_under(s3, bucket, "z/") == [] and keys_under(s3, bucket, "c/") == []
        assert open_uploads(s3, bucket) == []


async def test_an_unknown_output_is_a_json_400_before_anything_runs(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/z.bin", Body=b"z")
    async with running(config(moto_endpoint, _flows(bucket))) as (_, client):
        response = await client.post(
            "/workflows/fan/sync-executions",
            params={"output": "thumb"},
            json={"bucket": bucket, "key": "incoming/z.bin"},
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "UnknownOutput"
        assert "'zip', 'copy'" in error["message"]
        listing = (await client.get("/executions", params={"workflow": "fan"})).json()
        assert listing["executions"] == []
