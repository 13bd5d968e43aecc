"""Bad input: a corpus of broken, hostile and odd objects and notifications.

Promise under test: no input can take the service down, and nothing partial is ever visible.
Every image and archive of the corpus runs through the service against the moto server and
ends as a typed error code in its execution (or, for odd but valid files, a real output);
every notification is answered 4xx, or 200 with the reason it was ignored, or starts an
execution that fails with a typed code. Meanwhile ``/healthz`` keeps answering, nothing
appears under the output prefix but real outputs, and no multipart upload stays open.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

import anyio.lowlevel
import httpx
import pytest
from PIL import Image

from tests.reliability.corpus import gzip_cases, image_cases
from tests.support.service import config, running, s3_notification, unique
from tests.support.storage import keys_under, open_uploads, read_object
from tests.support.waiting import eventually
from trigger_service.workflows.model import Workflows, parse_workflows

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

BODY_LIMIT = 256 * 1024
THUMBNAIL = 256


def corpus_flows(bucket: str, ghost: str) -> Workflows:
    """``photos`` (img/ → JPEG thumbnails), ``unzip`` (gz/), ``zip`` (incoming/), ``ghost``."""
    return parse_workflows(
        {
            "workflows": {
                "photos": {
                    "trigger": {"bucket": bucket, "prefix": "img/"},
                    "steps": [
                        {
                            "compress": {
                                "max_width": THUMBNAIL,
                                "max_height": THUMBNAIL,
                                "format": "jpeg",
                                "quality": 70,
                            }
                        }
                    ],
                    "output": {"bucket": bucket, "key": "processed/img/{name}.{ext}"},
                    "retry": {"attempts": 1, "backoff_seconds": 0},
                },
                "unzip": {
                    "trigger": {"bucket": bucket, "prefix": "gz/"},
                    "steps": ["gunzip"],
                    "output": {"bucket": bucket, "key": "processed/unzipped/{key}"},
                    "retry": {"attempts": 1, "backoff_seconds": 0},
                },
                "zip": {
                    "trigger": {"bucket": bucket, "prefix": "incoming/"},
                    "steps": [{"gzip": {"level": 1}}],
                    "output": {"bucket": bucket, "key": "processed/{key}.gz"},
                    "retry": {"attempts": 1, "backoff_seconds": 0},
                },
                "ghost": {
                    "trigger": {"bucket": ghost, "prefix": "incoming/"},
                    "steps": ["passthrough"],
                    "output": {"bucket": bucket, "key": "processed/ghost/{key}"},
                },
            }
        }
    )


async def healthy(client: httpx.AsyncClient) -> bool:
    """Whether ``/healthz`` answers 200 ``ok``."""
    response = await client.get("/healthz")
    return response.status_code == 200 and response.json()["status"] == "ok"


async def test_bad_images_and_archives_fail_with_typed_codes_and_write_nothing(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    cases = {f"img/{case.name}": case for case in image_cases()}
    cases |= {f"gz/{case.name}": case for case in gzip_cases()}
    assert len(cases) >= 40
    for key, case in cases.items():
        s3.put_object(Bucket=bucket, Key=key, Body=case.data)
    cfg = config(
        moto_endpoint,
        corpus_flows(bucket, unique("ghost")),
        queue_size=len(cases),
        concurrency=4,
        max_body_bytes=BODY_LIMIT,
    )
    async with running(cfg) as (service, client):
        ids: dict[str, str] = {}
        for key in cases:
            workflow = "photos" if key.startswith("img/") else "unzip"
            response = await client.post(
                f"/workflows/{workflow}/executions", json={"bucket": bucket, "key": key}
            )
            assert response.status_code == 202, (key, response.text)
            ids[key] = response.json()["id"]
            assert await healthy(client)
        records: dict[str, dict[str, Any]] = {}

        async def all_final() -> bool:
            for key, execution_id in ids.items():
                if key not in records:
                    record = (await client.get(f"/executions/{execution_id}")).json()
                    if record["status"] in {"succeeded", "failed"}:
                        records[key] = record
            return len(records) == len(ids)

        await eventually(all_final, within=120, interval=0.1)
        assert await healthy(client)
        assert service.executor.running == 0

    outcomes: dict[str, str] = {}
    expected_outputs: set[str] = set()
    for key, case in cases.items():
        record = records[key]
        if record["status"] == "succeeded":
            assert not case.must_fail, f"{case.name} should have failed, it succeeded"
            output = record["output"]["key"]
            expected_outputs.add(output)
            _check_output(s3, bucket, output, key)
            outcomes[case.name] = "succeeded"
            continue
        error = record["error"]
        assert error["code"] in case.allowed_codes, (case.name, error)
        assert error["message"] and not error["transient"], (case.name, error)
        assert error["step"] in {"decode", "encode", "compress", "gunzip"}, (case.name, error)
        assert record["output"] is None
        outcomes[case.name] = error["code"]
    assert set(keys_under(s3, bucket, "processed/")) == expected_outputs
    assert open_uploads(s3, bucket) == []
    failed = sum(1 for outcome in outcomes.values() if outcome != "succeeded")
    print(f"\nbad input: {len(cases)} objects, {failed} failed with typed codes: {outcomes}")


def _check_output(s3: S3Client, bucket: str, output: str, key: str) -> None:
    data = read_object(s3, bucket, output)
    if key.startswith("gz/"):
        return
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "JPEG"
    assert max(image.size) <= THUMBNAIL


@dataclass(frozen=True)
class EventCase:
    """A notification body and what must come of it."""

    name: str
    body: bytes
    #: ``malformed`` (400), ``too_large`` (413), ``unsupported`` (415), ``ignored:<reason>``
    #: (200), ``fails:<code>`` (202, the execution fails) or ``succeeds`` (202).
    expect: str
    content_type: str = "application/json"
    chunked: bool = False


def _record(bucket: str, key: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = s3_notification(bucket, key, etag="0" * 32)["Records"][0]
    record["s3"]["object"]["key"] = quote_plus(key, safe="/")
    for path, value in fields.items():
        target = record
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return record


_DELETE = object()


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


def _records(*records: dict[str, Any]) -> bytes:
    return _body({"Records": list(records)})


def event_cases(s3: S3Client, bucket: str, ghost: str) -> list[EventCase]:
    """The notification corpus; objects the events name are created here."""
    key = "incoming/present.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=b"present " * 100)
    stale = s3.put_object(Bucket=bucket, Key="incoming/stale.bin", Body=b"one")["ETag"]
    s3.put_object(Bucket=bucket, Key="incoming/stale.bin", Body=b"two")

    def existing(name: str) -> bytes:
        etag = s3.put_object(Bucket=bucket, Key=name, Body=b"odd key " * 10)["ETag"].strip('"')
        return _records(_record(bucket, name, **{"s3.object.eTag": etag}))

    return [
        EventCase("empty", b"", "malformed"),
        EventCase("not-json", b"not json at all", "malformed"),
        EventCase("truncated-json", b'{"Records": [', "malformed"),
        EventCase("json-array", b"[]", "malformed"),
        EventCase("json-null", b"null", "malformed"),
        EventCase("json-number", b"42", "malformed"),
        EventCase("json-string", b'"Records"', "malformed"),
        EventCase("empty-object", b"{}", "malformed"),
        EventCase("records-not-a-list", _body({"Records": "x"}), "malformed"),
        EventCase("empty-record", _records({}), "malformed"),
        EventCase("event-name-number", _records(_record(bucket, key, eventName=5)), "malformed"),
        EventCase(
            "missing-key", _records(_record(bucket, key, **{"s3.object.key": _DELETE})), "malformed"
        ),
        EventCase(
            "key-number", _records(_record(bucket, key, **{"s3.object.key": 42})), "malformed"
        ),
        EventCase(
            "key-empty", _records(_record(bucket, key, **{"s3.object.key": ""})), "malformed"
        ),
        EventCase(
            "size-string", _records(_record(bucket, key, **{"s3.object.size": "big"})), "malformed"
        ),
        EventCase(
            "missing-bucket", _records(_record(bucket, key, **{"s3.bucket": _DELETE})), "malformed"
        ),
        EventCase(
            "event-time-garbage", _records(_record(bucket, key, eventTime="yesterday")), "malformed"
        ),
        EventCase("unknown-shape", _body({"foo": "bar", "baz": [1, 2]}), "malformed"),
        EventCase("invalid-utf8", b'{"Records": "\xff\xfe\xfd"}', "malformed"),
        EventCase("deep-nesting", b"[" * 20_000 + b"]" * 20_000, "malformed"),
        EventCase("too-many-records", _records(*[{"eventName": "x"}] * 1001), "malformed"),
        EventCase("sns-unknown-type", _body({"Type": "Bogus", "Message": "{}"}), "malformed"),
        EventCase(
            "sns-message-not-json", _body({"Type": "Notification", "Message": "nope"}), "malformed"
        ),
        EventCase("cloudevent-without-data", _body({"specversion": "1.0", "id": "1"}), "malformed"),
        EventCase(
            "minio-key-without-bucket",
            _body({"EventName": "s3:ObjectCreated:Put", "Key": "no-slash"}),
            "malformed",
        ),
        EventCase(
            "nul-in-key",
            _records(_record(bucket, key, **{"s3.object.key": "incoming/a%00b"})),
            "malformed",
        ),
        EventCase(
            "key-too-long",
            _records(_record(bucket, key, **{"s3.object.key": "incoming/" + "a" * 1100})),
            "malformed",
        ),
        # a form body is what a page on another site can send without a preflight: refused by type
        EventCase("form-encoded", b"a=b&c=d", "unsupported", "application/x-www-form-urlencoded"),
        EventCase("huge-body", b'{"pad": "' + b"x" * (BODY_LIMIT + 1024) + b'"}', "too_large"),
        EventCase(
            "huge-chunked-body", b"[" + b" " * (BODY_LIMIT + 1024) + b"]", "too_large", chunked=True
        ),
        EventCase(
            "missing-object",
            _records(_record(bucket, "incoming/never-there.bin")),
            "ignored:object_not_found",
        ),
        EventCase(
            "unwatched-missing-bucket",
            _records(_record(unique("nowhere"), "incoming/x.bin")),
            "ignored:no_matching_workflow",
        ),
        EventCase(
            "object-removed",
            _records(_record(bucket, key, eventName="ObjectRemoved:Delete")),
            "ignored:no_matching_workflow",
        ),
        EventCase(
            "stale-etag",
            _records(_record(bucket, "incoming/stale.bin", **{"s3.object.eTag": stale.strip('"')})),
            "ignored:object_changed",
        ),
        EventCase(
            "test-event",
            _body({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket}),
            "ignored:test_event",
        ),
        EventCase(
            # A HEAD on a missing bucket is a bare 404, like a missing object's.
            "watched-missing-bucket",
            _records(_record(ghost, "incoming/x.bin")),
            "ignored:object_not_found",
        ),
        EventCase("dot-dot-key", existing("incoming/../escape.bin"), "fails:UnsafeOutputKey"),
        EventCase("etc-passwd-key", existing("incoming/../../etc/passwd"), "fails:UnsafeOutputKey"),
        EventCase("dot-segment-key", existing("incoming/./x"), "fails:UnsafeOutputKey"),
        EventCase("tab-in-key", existing("incoming/tab\t.bin"), "fails:UnsafeOutputKey"),
        EventCase("del-in-key", existing("incoming/\x7f.bin"), "fails:UnsafeOutputKey"),
        EventCase("rtl-override-key", existing("incoming/a\u202eb.bin"), "fails:UnsafeOutputKey"),
        EventCase("unicode-key", existing("incoming/日本 🙂.bin"), "succeeds"),
        EventCase("plus-and-percent-key", existing("incoming/a+b%c.bin"), "succeeds"),
        EventCase("encoded-dots-key", existing("incoming/%2e%2e"), "succeeds"),
        EventCase("double-slash-key", existing("incoming//double"), "succeeds"),
        EventCase("dot-dot-name", existing("incoming/.."), "succeeds"),
    ]


async def _post(client: httpx.AsyncClient, case: EventCase) -> httpx.Response:
    if not case.chunked:
        return await client.post(
            "/events", content=case.body, headers={"content-type": case.content_type}
        )

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(case.body), 16 * 1024):
            yield case.body[start : start + 16 * 1024]

    return await client.post(
        "/events", content=stream(), headers={"content-type": case.content_type}
    )


async def test_bad_events_get_4xx_or_are_ignored_and_never_write_partial_output(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    ghost = unique("ghost")
    cases = event_cases(s3, bucket, ghost)
    assert len(cases) >= 40
    cfg = config(
        moto_endpoint,
        corpus_flows(bucket, ghost),
        queue_size=64,
        concurrency=4,
        max_body_bytes=BODY_LIMIT,
    )
    started: dict[str, tuple[EventCase, str]] = {}
    async with running(cfg) as (service, client):
        for case in cases:
            response = await _post(client, case)
            payload = response.json()
            where = (case.name, response.status_code, payload)
            assert response.status_code < 500, where
            kind, _, detail = case.expect.partition(":")
            if kind in {"malformed", "too_large", "unsupported"}:
                status, code = {
                    "malformed": (400, "MalformedEvent"),
                    "too_large": (413, "RequestTooLarge"),
                    "unsupported": (415, "UnsupportedMediaType"),
                }[kind]
                assert response.status_code == status, where
                assert payload["error"]["code"] == code, where
                assert payload["error"]["message"], where
            elif kind == "ignored":
                assert response.status_code == 200, where
                assert payload["executions"] == [], where
                assert [i["reason"] for i in payload["ignored"]] == [detail], where
            else:
                assert response.status_code == 202, where
                (record,) = payload["executions"]
                started[record["id"]] = (case, record["input"]["key"])
            assert await healthy(client)

        finals: dict[str, dict[str, Any]] = {}

        async def all_final() -> bool:
            for execution_id in started:
                record = (await client.get(f"/executions/{execution_id}")).json()
                if record["status"] in {"succeeded", "failed"}:
                    finals[execution_id] = record
            return len(finals) == len(started)

        await eventually(all_final, within=60, interval=0.1)
        assert await healthy(client)
        assert service.executor.running == 0 and service.executor.queued == 0
    expected_outputs = set()
    for execution_id, (case, key) in started.items():
        record = finals[execution_id]
        if case.expect == "succeeds":
            assert record["status"] == "succeeded", (case.name, record["error"])
            assert record["output"]["key"] == f"processed/{key}.gz"
            expected_outputs.add(record["output"]["key"])
        else:
            assert record["status"] == "failed", case.name
            assert record["error"]["code"] == case.expect.partition(":")[2], (case.name, record)
            assert record["output"] is None
    assert set(keys_under(s3, bucket, "processed/")) == expected_outputs
    assert open_uploads(s3, bucket) == []
    print(f"\nbad events: {len(cases)} bodies, {len(started)} executions started")


async def test_a_slow_bad_upload_does_not_stall_health_checks(
    s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    """A client trickling a huge body is cut off at the limit; others are answered meanwhile."""
    cfg = config(moto_endpoint, corpus_flows(bucket, unique("ghost")), max_body_bytes=BODY_LIMIT)
    async with running(cfg) as (_, client):
        checks: list[bool] = []

        async def trickle() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b" " * (8 * 1024)
                checks.append(await healthy(client))
                await anyio.lowlevel.checkpoint()

        response = await client.post("/events", content=trickle())
        assert response.status_code == 413
        assert checks and all(checks)
        assert len(checks) <= BODY_LIMIT // (8 * 1024) + 1  # not read past the limit
