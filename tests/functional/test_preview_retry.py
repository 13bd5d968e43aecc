"""Thumbnails of an execution's input and output, and re-runs of failed executions."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from tests.support.images import encode, noise
from tests.support.service import config, running, wait_final, workflows
from trigger_service.api import preview as preview_module
from trigger_service.api.auth import RequestAuth
from trigger_service.api.retry import PAGE_HEADER

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


def _photos(bucket: str) -> object:
    return workflows(
        bucket,
        photos={
            "trigger": {"prefix": "incoming/"},
            "steps": [{"compress": {"max_width": 400, "max_height": 400, "format": "png"}}],
            "output": {"bucket": bucket, "key": "processed/{stem}.{ext}"},
            "retry": {"attempts": 1},
        },
    )


async def test_previews_of_input_and_output_fit_the_box_and_are_cached(
    s3: S3Client, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(
        Bucket=bucket, Key="incoming/p.png", Body=encode(noise((900, 500), "RGBA"), "PNG")
    )
    flows = _photos(bucket)
    async with running(config(moto_endpoint, flows)) as (_, client):  # type: ignore[arg-type]
        started = await client.post(
            "/workflows/photos/executions", json={"bucket": bucket, "key": "incoming/p.png"}
        )
        record = await wait_final(client, started.json()["id"])
        assert record["status"] == "succeeded", record
        for side, edge in (("input", 256), ("output", 100)):
            answer = await client.get(
                f"/executions/{record['id']}/preview", params={"side": side, "max": edge}
            )
            assert answer.status_code == 200, answer.text
            assert answer.headers["content-type"] == "image/webp"
            assert "max-age" in answer.headers["cache-control"]
            thumbnail = Image.open(io.BytesIO(answer.content))
            assert max(thumbnail.size) == edge

        def refuse(*args: object) -> bytes:
            raise AssertionError("a cached thumbnail is not made again")

        monkeypatch.setattr(preview_module, "make_thumbnail", refuse)
        again = await client.get(f"/executions/{record['id']}/preview?side=input&max=256")
        assert again.status_code == 200

        cases = {
            "side=left": (400, "InvalidRequest"),
            "max=4096": (400, "InvalidRequest"),
            "max=big": (400, "InvalidRequest"),
        }
        for query, (status, code) in cases.items():
            bad = await client.get(f"/executions/{record['id']}/preview?{query}")
            assert (bad.status_code, bad.json()["error"]["code"]) == (status, code), query
        missing = await client.get("/executions/nope/preview")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "ExecutionNotFound"


async def test_no_preview_of_what_is_not_an_image_or_not_written(
    s3: S3Client, bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/t.png", Body=b"plain text, not a picture")
    s3.put_object(Bucket=bucket, Key="incoming/big.png", Body=encode(noise((64, 64)), "PNG"))
    monkeypatch.setattr(preview_module, "MAX_SOURCE_BYTES", 100)
    async with running(config(moto_endpoint, _photos(bucket))) as (_, client):  # type: ignore[arg-type]
        started = await client.post(
            "/workflows/photos/executions", json={"bucket": bucket, "key": "incoming/t.png"}
        )
        record = await wait_final(client, started.json()["id"])
        assert record["status"] == "failed"
        for side, fragment in (("output", "has no output"), ("input", "InvalidImage")):
            answer = await client.get(f"/executions/{record['id']}/preview?side={side}")
            assert answer.status_code == 404
            error = answer.json()["error"]
            assert error["code"] == "PreviewUnavailable" and fragment in error["message"]
        big = await client.post(
            "/workflows/photos/executions", json={"bucket": bucket, "key": "incoming/big.png"}
        )
        big_record = await wait_final(client, big.json()["id"])
        answer = await client.get(f"/executions/{big_record['id']}/preview?side=input")
        assert answer.status_code == 404 and "at most 100" in answer.json()["error"]["message"]


async def test_a_succeeded_execution_is_not_rerun(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/ok.png", Body=encode(noise((40, 40)), "PNG"))
    async with running(config(moto_endpoint, _photos(bucket))) as (_, client):  # type: ignore[arg-type]
        started = await client.post(
            "/workflows/photos/executions", json={"bucket": bucket, "key": "incoming/ok.png"}
        )
        record = await wait_final(client, started.json()["id"])
        assert record["status"] == "succeeded"
        refused = await client.post(f"/executions/{record['id']}/retry")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "NotRetryable"


async def test_a_failed_execution_is_rerun_as_a_new_attempt_of_itself(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/r.png", Body=b"not yet a picture")
    async with running(config(moto_endpoint, _photos(bucket))) as (_, client):  # type: ignore[arg-type]
        started = await client.post(
            "/workflows/photos/executions", json={"bucket": bucket, "key": "incoming/r.png"}
        )
        record = await wait_final(client, started.json()["id"])
        assert (record["status"], record["attempts"]) == ("failed", 1)
        first = await client.post(f"/executions/{record['id']}/retry")
        assert first.status_code == 202, first.text
        assert first.json()["id"] == record["id"]
        assert first.headers["location"] == f"/executions/{record['id']}"
        second = await client.post(f"/executions/{record['id']}/retry")
        assert second.status_code in {202, 409}, second.text
        final = await wait_final(client, record["id"])
        if final["attempts"] == 1:  # the second call came after the first re-run ended
            final = await wait_final(client, record["id"])
        assert final["status"] == "failed" and final["error"]["code"] == "InvalidImage"
        assert final["attempts"] in {2, 3}
        unknown = await client.post("/executions/nope/retry")
        assert unknown.status_code == 404


async def test_retry_needs_the_credential_and_the_page_header_with_a_cookie(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/x.png", Body=b"bad")
    cfg = config(moto_endpoint, _photos(bucket), auth=RequestAuth(token="t0k"))  # type: ignore[arg-type]
    async with running(cfg) as (_, client):
        token = {"X-Bucketstream-Token": "t0k"}
        started = await client.post(
            "/workflows/photos/executions",
            json={"bucket": bucket, "key": "incoming/x.png"},
            headers=token,
        )
        execution_id = started.json()["id"]
        client.headers.update(token)
        await wait_final(client, execution_id)
        page = await client.get("/")  # a header-bearing page load opens a session
        del client.headers["X-Bucketstream-Token"]
        client.cookies.set("bucketstream_session", page.cookies["bucketstream_session"])
        assert (await client.post(f"/executions/{execution_id}/retry")).status_code == 401
        assert (await client.get(f"/executions/{execution_id}/preview")).status_code != 401
        assert (await client.get("/executions/nope/events")).status_code == 404
        rerun = await client.post(f"/executions/{execution_id}/retry", headers={PAGE_HEADER: "1"})
        assert rerun.status_code == 202, rerun.text


async def test_a_preview_of_each_output_of_a_fan_out(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/f.png", Body=encode(noise((600, 400)), "PNG"))
    flows = workflows(
        bucket,
        renditions={
            "trigger": {"prefix": "incoming/"},
            "steps": [],
            "output": None,
            "outputs": [
                {
                    "name": "small",
                    "steps": [{"compress": {"max_width": 60, "max_height": 60}}],
                    "key": "small/{name}",
                },
                {
                    "name": "large",
                    "steps": [{"compress": {"max_width": 300, "max_height": 300}}],
                    "key": "large/{name}",
                },
            ],
        },
    )
    async with running(config(moto_endpoint, flows)) as (_, client):
        started = await client.post(
            "/workflows/renditions/executions", json={"bucket": bucket, "key": "incoming/f.png"}
        )
        record = await wait_final(client, started.json()["id"])
        assert record["status"] == "succeeded", record
        sizes = {}
        for name in ("small", "large", ""):
            answer = await client.get(
                f"/executions/{record['id']}/preview",
                params={"side": "output", "max": 1024, "output": name},
            )
            assert answer.status_code == 200, answer.text
            sizes[name] = max(Image.open(io.BytesIO(answer.content)).size)
        assert sizes == {"small": 60, "large": 300, "": 60}, "the default is the first output"
        unknown = await client.get(f"/executions/{record['id']}/preview?output=huge")
        assert unknown.status_code == 404
        assert "small, large" in unknown.json()["error"]["message"]
