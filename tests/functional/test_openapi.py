"""``GET /openapi.json``: generated from the routes, and real answers match its schemas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
from jsonschema.validators import Draft202012Validator

from tests.support.live import served
from tests.support.service import config, s3_notification, workflows
from tests.support.waiting import wait_for
from trigger_service.api.app import _ROUTES
from trigger_service.api.openapi import OPERATIONS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _validator(document: dict[str, Any], path: str, method: str, status: int) -> Any:
    answer = document["paths"][path][method]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


def test_every_route_is_described_with_its_answers() -> None:
    declared = {
        (route.path, method.lower())
        for route in _ROUTES
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert declared == set(OPERATIONS), "OPERATIONS describes exactly the app's routes"


def test_real_answers_validate_against_the_document(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/a.txt", Body=b"hello " * 1000)
    s3.put_object(Bucket=bucket, Key="incoming/b.txt", Body=b"world " * 1000)
    flows = workflows(
        bucket,
        archive={
            "trigger": {"prefix": "incoming/"},
            "steps": [{"gzip": {"level": 1}}],
            "output": {"bucket": bucket, "key": "archived/{key}.gz"},
        },
    )
    with served(config(moto_endpoint, flows)) as (url, _):
        client = httpx.Client(base_url=url, timeout=30)
        document = client.get("/openapi.json").json()
        assert document["openapi"] == "3.1.0"
        jsonschema.Draft202012Validator.check_schema(
            document["components"]["schemas"]["ExecutionRecord"]
        )
        assert (
            document["paths"]["/executions/{execution_id}"]["get"]["parameters"][0]["name"]
            == "execution_id"
        )

        started = client.post(
            "/workflows/archive/executions", json={"bucket": bucket, "key": "incoming/a.txt"}
        )
        assert started.status_code == 202
        _validator(document, "/workflows/{name}/executions", "post", 202).validate(started.json())
        execution_id = started.json()["id"]
        wait_for(
            lambda: client.get(f"/executions/{execution_id}").json()["status"] == "succeeded",
            within=20,
        )
        record = client.get(f"/executions/{execution_id}").json()
        _validator(document, "/executions/{execution_id}", "get", 200).validate(record)

        etag = s3.head_object(Bucket=bucket, Key="incoming/b.txt")["ETag"].strip('"')
        events = client.post("/events", json=s3_notification(bucket, "incoming/b.txt", etag=etag))
        assert events.status_code == 202
        _validator(document, "/events", "post", 202).validate(events.json())

        listing = client.get("/executions", params={"limit": 5})
        _validator(document, "/executions", "get", 200).validate(listing.json())
        health = client.get("/healthz")
        _validator(document, "/healthz", "get", 200).validate(health.json())
        for path in ("/executions/nope", "/workflows/nope/executions", "/executions?status=x"):
            method = "post" if path.startswith("/workflows") else "get"
            error = client.request(method, path, json={"bucket": bucket, "key": "k"})
            assert error.status_code >= 400
            default = document["paths"]["/executions/{execution_id}"]["get"]["responses"]["default"]
            schema = default["content"]["application/json"]["schema"]
            Draft202012Validator({**schema, "components": document["components"]}).validate(
                error.json()
            )
        # a record that does not match is refused: the check has teeth
        broken = {**record, "status": "sleeping"}
        validator = _validator(document, "/executions/{execution_id}", "get", 200)
        assert not validator.is_valid(broken)
        assert not validator.is_valid({k: v for k, v in record.items() if k != "steps"})
