"""Bodies that are not notifications: each one a MalformedEvent that says what and where."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any, cast

import pytest

from tests.unit.test_events import AWS_PUT, CLOUDEVENT_OBS, MINIO_PUT, OBS_SMN_POST, sns
from trigger_service.errors import MalformedEvent
from trigger_service.events.parse import MAX_RECORDS, parse_notification

Edit = Callable[[dict[str, Any]], None]


def edited(sample: dict[str, Any], edit: Edit) -> dict[str, Any]:
    body = copy.deepcopy(sample)
    edit(body)
    return body


def aws_object(body: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], body["Records"][0]["s3"]["object"])


def message_of(body: Any) -> str:
    with pytest.raises(MalformedEvent) as caught:
        parse_notification(body)
    assert caught.value.code == "MalformedEvent"
    return caught.value.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"\xff\xfe{}", "body: not valid UTF-8 (at byte 0)"),
        ("", "body: not valid JSON (Expecting value: line 1 column 1 (char 0))"),
        ("{'Records': []}", "body: not valid JSON (Expecting property name enclosed"),
        ("[" * 100_000, "body: not valid JSON (nested too deeply)"),
        ("[1, 2]", "body: expected an object, got list"),
        ('"Records"', "body: expected an object, got string"),
        ("null", "body: expected an object, got null"),
        (42, "body: expected JSON text or an object, got int"),
        ({"Records": "x"}, "Records: expected a list, got string"),
        ({"Records": None}, "Records: expected a list, got null"),
        ({"Records": ["x"]}, "Records[0]: expected an object, got string"),
        ({"Records": [{}]}, "Records[0].s3: missing"),
        ({"hello": "world"}, "body: unknown notification shape"),
        ({}, "body: unknown notification shape"),
    ],
)
def test_not_a_notification(body: Any, expected: str) -> None:
    assert message_of(body).startswith(expected)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda b: aws_object(b).pop("key"), "Records[0].s3.object.key: missing"),
        (
            lambda b: aws_object(b).update(key=None),
            "Records[0].s3.object.key: missing",
        ),
        (
            lambda b: aws_object(b).update(key=7),
            "Records[0].s3.object.key: expected a string, got number",
        ),
        (lambda b: aws_object(b).update(key=""), "Records[0].s3.object.key: empty"),
        (lambda b: aws_object(b).update(key="a%00b"), "Records[0].s3.object.key: contains NUL"),
        (
            lambda b: aws_object(b).update(key="%FF.jpg"),
            "Records[0].s3.object.key: not valid UTF-8 after URL decoding",
        ),
        (
            lambda b: aws_object(b).update(key="a" * 1025),
            "Records[0].s3.object.key: longer than 1024 bytes of UTF-8 (1025)",
        ),
        (
            lambda b: aws_object(b).update(key="%C3%A9" * 513),
            "Records[0].s3.object.key: longer than 1024 bytes of UTF-8 (1026)",
        ),
        (
            lambda b: b["Records"][0]["s3"]["bucket"].pop("name"),
            "Records[0].s3.bucket.name: missing",
        ),
        (
            lambda b: b["Records"][0]["s3"]["bucket"].update(name=""),
            "Records[0].s3.bucket.name: empty",
        ),
        (
            lambda b: b["Records"][0]["s3"]["bucket"].update(name=["uploads"]),
            "Records[0].s3.bucket.name: expected a string, got list",
        ),
        (lambda b: b["Records"][0]["s3"].pop("bucket"), "Records[0].s3.bucket: missing"),
        (
            lambda b: b["Records"][0]["s3"].update(object="k"),
            "Records[0].s3.object: expected an object, got string",
        ),
        (
            lambda b: aws_object(b).update(size="abc"),
            "Records[0].s3.object.size: expected a non-negative integer, got 'abc'",
        ),
        (
            lambda b: aws_object(b).update(size=-1),
            "Records[0].s3.object.size: expected a non-negative integer, got -1",
        ),
        (
            lambda b: aws_object(b).update(size=12.5),
            "Records[0].s3.object.size: expected a non-negative integer, got 12.5",
        ),
        (
            lambda b: aws_object(b).update(size=True),
            "Records[0].s3.object.size: expected a non-negative integer, got True",
        ),
        (
            lambda b: aws_object(b).update(eTag=123),
            "Records[0].s3.object.eTag: expected a string, got number",
        ),
        (
            lambda b: aws_object(b).update(versionId={}),
            "Records[0].s3.object.versionId: expected a string, got object",
        ),
        (lambda b: b["Records"][0].pop("eventName"), "Records[0].eventName: missing"),
        (
            lambda b: b["Records"][0].update(eventName="s3:"),
            "Records[0].eventName: not an event name: 's3:'",
        ),
        (
            lambda b: b["Records"][0].update(eventTime="yesterday"),
            "Records[0].eventTime: not an ISO 8601 time: 'yesterday'",
        ),
        (
            lambda b: b["Records"][0].update(eventSource=3),
            "Records[0].eventSource: expected a string, got number",
        ),
    ],
)
def test_bad_aws_record(edit: Edit, expected: str) -> None:
    assert message_of(edited(AWS_PUT, edit)) == expected


def test_bad_field_inside_sns_envelope_names_the_message() -> None:
    body = sns(edited(AWS_PUT, lambda b: aws_object(b).pop("key")))
    assert message_of(json.dumps(body)) == "Message.Records[0].s3.object.key: missing"


def test_sns_message_that_is_not_json() -> None:
    body = sns({})
    body["Message"] = "an object was created"
    assert message_of(body).startswith("Message: not valid JSON")


def test_unknown_envelope_type() -> None:
    body = sns(AWS_PUT)
    body["Type"] = "Advertisement"
    assert message_of(body) == "Type: unsupported type 'Advertisement'"


def test_envelopes_nested_too_deeply() -> None:
    body: dict[str, Any] = AWS_PUT
    for _ in range(4):
        body = sns(body)
    assert message_of(body) == "Message.Message.Message: more than 3 nested envelopes"


def test_obs_record_missing_key() -> None:
    body = edited(OBS_SMN_POST, lambda b: b["Records"][0]["obs"]["object"].pop("key"))
    assert message_of(body) == "Records[0].obs.object.key: missing"


def test_obs_bucket_without_any_name() -> None:
    def drop_names(body: dict[str, Any]) -> None:
        bucket = body["Records"][0]["obs"]["bucket"]
        del bucket["name"], bucket["bucket"]

    assert message_of(edited(OBS_SMN_POST, drop_names)) == "Records[0].obs.bucket.name: missing"


def test_cloudevent_without_data() -> None:
    assert message_of(edited(CLOUDEVENT_OBS, lambda b: b.pop("data"))) == "data: missing"


def test_cloudevent_record_missing_key() -> None:
    body = edited(CLOUDEVENT_OBS, lambda b: b["data"]["obs"]["object"].pop("key"))
    assert message_of(body) == "data.obs.object.key: missing"


def test_cloudevent_with_bad_time() -> None:
    body = edited(CLOUDEVENT_OBS, lambda b: b.update(time=17))
    assert message_of(body) == "time: expected a string, got number"


def test_minio_key_without_bucket() -> None:
    body = {"EventName": "s3:ObjectCreated:Put", "Key": "no-slash"}
    assert message_of(body) == "Key: expected 'bucket/key', got 'no-slash'"


def test_minio_records_not_a_list() -> None:
    body = edited(MINIO_PUT, lambda b: b.update(Records={"s3": {}}))
    assert message_of(body) == "Records: expected a list, got object"


def test_lone_surrogate_in_key() -> None:
    text = json.dumps(AWS_PUT).replace("incoming/Summer", "incoming/\\ud800Summer")
    assert message_of(text) == "Records[0].s3.object.key: not valid Unicode (lone surrogate)"


def test_too_many_records() -> None:
    record = AWS_PUT["Records"][0]
    assert len(parse_notification({"Records": [record] * MAX_RECORDS}).events) == MAX_RECORDS
    body = {"Records": [record] * (MAX_RECORDS + 1)}
    assert message_of(body) == "Records: 1001 records, more than the 1000 allowed"


def test_error_in_a_later_record_names_its_index() -> None:
    second = copy.deepcopy(AWS_PUT["Records"][0])
    second["s3"]["object"]["size"] = "12kB"
    body = {"Records": [AWS_PUT["Records"][0], second]}
    assert message_of(body) == (
        "Records[1].s3.object.size: expected a non-negative integer, got '12kB'"
    )
