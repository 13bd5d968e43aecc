"""``POST /events``: event shapes, duplicates, loop guard, auth, body limit, malformed bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.service import (
    archive_workflows,
    config,
    dumps,
    running,
    s3_notification,
    wait_final,
)
from trigger_service.api.auth import RequestAuth, sign_request

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio


def _put(s3: S3Client, bucket: str, key: str, body: bytes = b"payload " * 1000) -> str:
    return s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')


def _sns(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
        "Message": json.dumps(message),
    }


def _cloudevent(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "ce-1",
        "source": "test",
        "type": "ObjectCreated",
        "time": "2026-01-01T00:00:00Z",
        "data": message,
    }


@pytest.mark.parametrize("shape", ["aws", "sns", "cloudevents", "minio"])
async def test_each_event_shape_starts_one_execution(
    s3: S3Client, bucket: str, moto_endpoint: str, shape: str
) -> None:
    key = "incoming/some file+1.txt"
    etag = _put(s3, bucket, key)
    aws = s3_notification(bucket, key, etag=etag)
    aws["Records"][0]["s3"]["object"]["key"] = "incoming/some+file%2B1.txt"
    bodies = {
        "aws": aws,
        "sns": _sns(aws),
        "cloudevents": _cloudevent(aws),
        "minio": {"EventName": "s3:ObjectCreated:Put", "Key": f"{bucket}/{key}"},
    }
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (_, client):
        response = await client.post("/events", json=bodies[shape])
        assert response.status_code == 202, response.text
        (record,) = response.json()["executions"]
        stamped = record["input"].pop("last_modified")
        assert stamped is not None  # the HEAD's Last-Modified orders this write
        assert record["input"] == {
            "bucket": bucket,
            "key": key,
            "etag": etag,
            "size": 8000,
            "version_id": None,
            "sequencer": None,
        }
        assert record["source"] == "webhook"
        final = await wait_final(client, record["id"])
        assert final["status"] == "succeeded"
        assert final["output"]["key"] == f"archived/{key}.gz"


async def test_same_event_three_times_and_without_etag_make_one_execution(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    key = "incoming/dup.bin"
    etag = _put(s3, bucket, key)
    event = s3_notification(bucket, key, etag=etag)
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (service, client):
        answers = [await client.post("/events", json=event) for _ in range(3)]
        no_etag = s3_notification(bucket, key, etag=None, event="CompleteMultipartUpload")
        no_etag["Records"][0]["eventName"] = "ObjectCreated:CompleteMultipartUpload"
        answers.append(await client.post("/events", json=no_etag))
        ids = {a.json()["executions"][0]["id"] for a in answers}
        assert len(ids) == 1
        assert [a.status_code for a in answers] == [202] * 4
        assert answers[0].json()["duplicates"] == []
        assert [a.json()["duplicates"] for a in answers[1:]] == [list(ids)] * 3
        final = await wait_final(client, ids.pop())
        assert final["status"] == "succeeded"
        assert final["attempts"] == 1
        page = (await client.get("/executions")).json()
        assert len(page["executions"]) == 1
        output = s3.head_object(Bucket=bucket, Key=final["output"]["key"])
        assert output["Metadata"]["bucketstream-execution"] == final["id"]
        assert service.executor.queued == 0


async def test_test_events_and_unmatched_keys_are_ignored_with_reasons(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket}
    unmatched = s3_notification(bucket, "elsewhere/x.bin", etag="abc")
    _put(s3, bucket, "incoming/gone.bin")
    s3.delete_object(Bucket=bucket, Key="incoming/gone.bin")
    gone = s3_notification(bucket, "incoming/gone.bin", etag=None)
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (_, client):
        for body, reason in [
            (test_event, "test_event"),
            (unmatched, "no_matching_workflow"),
            (gone, "object_not_found"),
        ]:
            response = await client.post("/events", json=body)
            assert response.status_code == 200, response.text
            payload = response.json()
            assert payload["executions"] == []
            assert [i["reason"] for i in payload["ignored"]] == [reason]
            assert payload["ignored"][0]["detail"]


async def test_an_output_posted_back_is_ignored_not_failed(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    flows = archive_workflows(bucket)
    etag = _put(s3, bucket, "incoming/a.bin")
    async with running(config(moto_endpoint, flows)) as (_, client):
        first = await client.post(
            "/events", json=s3_notification(bucket, "incoming/a.bin", etag=etag)
        )
        record = await wait_final(client, first.json()["executions"][0]["id"])
        output_key = record["output"]["key"]
        s3.copy_object(
            Bucket=bucket, Key="incoming/copy.gz", CopySource={"Bucket": bucket, "Key": output_key}
        )
        again = await client.post(
            "/events", json=s3_notification(bucket, "incoming/copy.gz", etag=None)
        )
        assert again.status_code == 200
        (ignored,) = again.json()["ignored"]
        assert ignored["reason"] == "execution_output"
        assert record["id"] in ignored["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {}}}]}',
        b'{"Records": "x"}',
        b"\xff\xfe",
    ],
)
async def test_malformed_bodies_get_400_with_a_json_error(
    bucket: str, moto_endpoint: str, body: bytes
) -> None:
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (_, client):
        response = await client.post("/events", content=body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "MalformedEvent"
        assert error["message"]


async def test_token_auth(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    cfg = replace(
        config(moto_endpoint, archive_workflows(bucket)), auth=RequestAuth(token="s3cret")
    )
    event = dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    async with running(cfg) as (_, client):
        missing = await client.post("/events", content=event)
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "Unauthorized"
        wrong = await client.post("/events", content=event, headers={"X-Bucketstream-Token": "x"})
        assert wrong.status_code == 401
        right = await client.post(
            "/events", content=event, headers={"X-Bucketstream-Token": "s3cret"}
        )
        assert right.status_code == 200
        assert (await client.get("/executions")).status_code == 401
        ok = await client.get("/executions", headers={"X-Bucketstream-Token": "s3cret"})
        assert ok.status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_hmac_signature_auth(s3: S3Client, bucket: str, moto_endpoint: str) -> None:
    cfg = replace(
        config(moto_endpoint, archive_workflows(bucket)), auth=RequestAuth(hmac_secret="k3y")
    )
    event = dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})
    async with running(cfg) as (_, client):
        unsigned = await client.post("/events", content=event)
        assert unsigned.status_code == 401
        bad = await client.post(
            "/events", content=event, headers=sign_request("other", "POST", "/events", event)
        )
        assert bad.status_code == 401
        tampered = await client.post(
            "/events",
            content=event + b" ",
            headers=sign_request("k3y", "POST", "/events", event),
        )
        assert tampered.status_code == 401
        signed = sign_request("k3y", "POST", "/events", event)
        good = await client.post("/events", content=event, headers=signed)
        replayed = await client.post("/events", content=event, headers=signed)
        assert replayed.status_code == 401, "a signature is accepted once"
        other_route = sign_request("k3y", "POST", "/events?x=1", event)
        moved = await client.post("/events", content=event, headers=other_route)
        assert moved.status_code == 401, "the query is signed"
        assert good.status_code == 200, good.text


async def test_bodies_over_the_limit_get_413(bucket: str, moto_endpoint: str) -> None:
    cfg = replace(config(moto_endpoint, archive_workflows(bucket)), max_body_bytes=1024)
    chunks_sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        for _ in range(1000):
            chunks_sent += 1
            yield b"x" * 512

    async with running(cfg) as (_, client):
        declared = await client.post("/events", content=b"{" + b" " * 2000 + b"}")
        assert declared.status_code == 413
        assert declared.json()["error"]["code"] == "RequestTooLarge"
        streamed = await client.post("/events", content=endless())
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "RequestTooLarge"
        assert chunks_sent < 1000


async def test_unknown_routes_and_methods_answer_json(bucket: str, moto_endpoint: str) -> None:
    async with running(config(moto_endpoint, archive_workflows(bucket))) as (_, client):
        missing = await client.get("/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NotFound"
        method = await client.get("/events")
        assert method.status_code == 405
        assert method.json()["error"]["code"] == "MethodNotAllowed"
