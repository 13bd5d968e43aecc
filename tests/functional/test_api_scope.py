"""Scope: an API call reads only what the workflow's trigger watches; JSON must say JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.service import config, running, unique, workflows
from trigger_service.api.auth import TOKEN_HEADER, RequestAuth
from trigger_service.errors import WorkflowConfigError
from trigger_service.workflows.model import parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

anyio_mark = pytest.mark.anyio


def _flows(bucket: str, **api: object) -> object:
    spec: dict[str, object] = {
        "trigger": {"prefix": "incoming/", "suffix": [".txt"]},
        "steps": [{"gzip": {"level": 1}}],
        "output": {"bucket": bucket, "key": "archived/{key}.gz"},
    }
    if api:
        spec["api"] = api
    return workflows(bucket, archive=spec)


@anyio_mark
async def test_api_and_sync_executions_read_only_what_the_trigger_watches(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    secret_bucket = unique("secret")
    s3.create_bucket(Bucket=secret_bucket)
    s3.put_object(Bucket=secret_bucket, Key="p.txt", Body=b"private")
    s3.put_object(Bucket=bucket, Key="other/p.txt", Body=b"private")
    s3.put_object(Bucket=bucket, Key="incoming/p.bin", Body=b"private")
    s3.put_object(Bucket=bucket, Key="incoming/ok.txt", Body=b"fine")
    async with running(config(moto_endpoint, _flows(bucket))) as (service, client):  # type: ignore[arg-type]
        for target in (
            {"bucket": secret_bucket, "key": "p.txt"},
            {"bucket": bucket, "key": "other/p.txt"},
            {"bucket": bucket, "key": "incoming/p.bin"},
        ):
            for path in (
                "/workflows/archive/executions",
                "/workflows/archive/sync-executions?store=false",
            ):
                response = await client.post(path, json=target)
                assert response.status_code == 403, (path, target, response.text)
                error = response.json()["error"]
                assert error["code"] == "OutOfScope"
                assert f"bucket {bucket!r}" in error["message"]
                assert "'incoming/'" in error["message"] and "'.txt'" in error["message"]
                assert b"private" not in response.content
        assert (await service.store.list_executions()).executions == []
        ok = await client.post(
            "/workflows/archive/sync-executions?store=false",
            json={"bucket": bucket, "key": "incoming/ok.txt"},
        )
        assert ok.status_code == 200
        # A raw upload lands under the trigger's prefix in the trigger's bucket.
        raw = await client.post(
            "/workflows/archive/sync-executions?store=false",
            content=b"raw bytes",
            headers={"content-type": "application/octet-stream"},
        )
        assert raw.status_code == 200, raw.text
        record = (await client.get(f"/executions/{raw.headers['x-execution-id']}")).json()
        assert record["input"]["bucket"] == bucket
        assert record["input"]["key"].startswith("incoming/")


@anyio_mark
async def test_a_workflow_can_open_more_buckets_to_the_api(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    extra = unique("extra")
    s3.create_bucket(Bucket=extra)
    s3.put_object(Bucket=extra, Key="any/key.bin", Body=b"shared")
    flows = _flows(bucket, buckets=[extra])
    async with running(config(moto_endpoint, flows)) as (_, client):  # type: ignore[arg-type]
        response = await client.post(
            "/workflows/archive/sync-executions?store=false",
            json={"bucket": extra, "key": "any/key.bin"},
        )
        assert response.status_code == 200, response.text


def test_the_api_section_is_validated_naming_the_field() -> None:
    spec = {
        "trigger": {"bucket": "abc"},
        "steps": ["passthrough"],
        "output": {"bucket": "xyz", "key": "{key}"},
    }
    for bad, field in (({"any_key": "maybe"}, "any_key"), ({"buckets": ["x"]}, "buckets")):
        with pytest.raises(WorkflowConfigError, match=rf"api\.{field}"):
            parse_workflows({"workflows": {"w": {**spec, "api": bad}}})
    with pytest.raises(WorkflowConfigError, match=r"api\.nope"):
        parse_workflows({"workflows": {"w": {**spec, "api": {"nope": True}}}})


@anyio_mark
async def test_json_bodies_must_be_typed_and_unknown_workflows_404_after_auth(
    bucket: str, moto_endpoint: str
) -> None:
    cfg = config(moto_endpoint, _flows(bucket), auth=RequestAuth(token="t0k"))  # type: ignore[arg-type]
    async with running(cfg) as (service, client):
        hidden = await client.post("/workflows/nope/sync-executions", json={"bucket": bucket})
        assert hidden.status_code == 401 and "archive" not in hidden.text
        client.headers[TOKEN_HEADER] = "t0k"
        body = f'{{"bucket": "{bucket}", "key": "incoming/ok.txt"}}'
        for path in ("/workflows/archive/executions", "/workflows/archive/sync-executions"):
            for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
                headers = {"content-type": content_type} if content_type else {}
                response = await client.post(path, content=body, headers=headers)
                assert response.status_code == 415, (path, content_type, response.text)
                assert response.json()["error"]["code"] == "UnsupportedMediaType"
        cross_site = await client.post(
            "/workflows/archive/executions",
            json={"bucket": bucket, "key": "incoming/ok.txt"},
            headers={"sec-fetch-site": "cross-site"},
        )
        assert cross_site.status_code == 403
        assert (await service.store.list_executions()).executions == []
        rebound = await client.get("/healthz", headers={"host": "evil.example"})
        assert rebound.status_code == 400


@anyio_mark
async def test_events_refuse_form_bodies_but_take_sns_text_plain(
    bucket: str, moto_endpoint: str
) -> None:
    test_event = b'{"Service": "Amazon S3", "Event": "s3:TestEvent"}'
    async with running(config(moto_endpoint, _flows(bucket))) as (_, client):  # type: ignore[arg-type]
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = await client.post(
                "/events", content=test_event, headers={"content-type": content_type}
            )
            assert response.status_code == 415, content_type
        sns = await client.post(
            "/events",
            content=test_event,
            headers={"content-type": "text/plain", "x-amz-sns-message-type": "Notification"},
        )
        assert sns.status_code != 415
        typed = await client.post(
            "/events", content=test_event, headers={"content-type": "application/json"}
        )
        assert typed.status_code == 200, typed.text
        same_site = await client.post(
            "/events",
            content=test_event,
            headers={"content-type": "application/json", "origin": "http://localhost"},
        )
        assert same_site.status_code == 200
        other_site = await client.post(
            "/events",
            content=test_event,
            headers={"content-type": "application/json", "origin": "http://evil.example"},
        )
        assert other_site.status_code == 403
        assert other_site.json()["error"]["code"] == "CrossOriginRefused"
