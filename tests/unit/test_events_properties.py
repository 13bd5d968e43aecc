"""Parser properties: keys round-trip; nothing but MalformedEvent ever escapes."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from storage_adapter import MAX_KEY_BYTES
from tests.unit.test_events import (
    AWS_PUT,
    CEPH_PUT,
    CLOUDEVENT_OBS,
    FUNCTIONGRAPH_POST,
    LOCALSTACK_PUT,
    MINIO_PUT,
    MOTO_PUT,
    OBS_SMN_POST,
    S3_TEST_EVENT,
    sns,
)
from trigger_service.errors import MalformedEvent
from trigger_service.events.parse import ParsedNotification, parse_notification

FAST = settings(max_examples=200, deadline=None)

SAMPLES = [
    AWS_PUT,
    MOTO_PUT,
    LOCALSTACK_PUT,
    FUNCTIONGRAPH_POST,
    OBS_SMN_POST,
    CLOUDEVENT_OBS,
    MINIO_PUT,
    CEPH_PUT,
    S3_TEST_EVENT,
    sns(AWS_PUT),
]

TRICKY = st.sampled_from(["+", "%", "%2B", "%20", " ", "/", "é", "日本", "\x00", "🙂", "a"])
KEYS = st.one_of(st.text(max_size=300), st.lists(TRICKY, max_size=40).map("".join))

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


def is_valid_key(key: str) -> bool:
    return bool(key) and "\x00" not in key and len(key.encode("utf-8")) <= MAX_KEY_BYTES


def with_key(sample: dict[str, Any], key: str) -> dict[str, Any]:
    body = copy.deepcopy(sample)
    body["Records"][0]["s3"]["object"]["key"] = key
    return body


def parses_or_is_malformed(body: Any) -> None:
    try:
        result = parse_notification(body)
    except MalformedEvent as exc:
        assert exc.message
    else:
        assert isinstance(result, ParsedNotification)


@FAST
@given(KEYS)
def test_aws_keys_round_trip(key: str) -> None:
    body = with_key(AWS_PUT, quote_plus(key))
    if is_valid_key(key):
        assert parse_notification(body).events[0].key == key
    else:
        parses_or_is_malformed(body)


@FAST
@given(KEYS)
def test_ceph_raw_keys_round_trip(key: str) -> None:
    body = with_key(CEPH_PUT, key)
    if is_valid_key(key):
        assert parse_notification(body).events[0].key == key
    else:
        parses_or_is_malformed(body)


@FAST
@given(KEYS)
def test_minio_top_level_key_round_trips(key: str) -> None:
    body = {"EventName": "s3:ObjectCreated:Put", "Key": f"photos/{key}"}
    if is_valid_key(key):
        assert parse_notification(body).events[0].key == key
    else:
        parses_or_is_malformed(body)


@FAST
@given(JSON)
def test_any_json_value_parses_or_is_malformed(value: Any) -> None:
    parses_or_is_malformed(json.dumps(value))
    if isinstance(value, dict):
        parses_or_is_malformed(value)


@FAST
@given(st.binary(max_size=512))
def test_any_bytes_parse_or_are_malformed(data: bytes) -> None:
    parses_or_is_malformed(data)


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value``, containers included, so a mutation can hit any level."""
    paths = [path]
    if isinstance(value, dict):
        for name, child in value.items():
            paths.extend(leaf_paths(child, (*path, name)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths.extend(leaf_paths(child, (*path, index)))
    return paths


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    """A real sample with one member replaced by arbitrary JSON, or deleted."""
    body = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    path = draw(st.sampled_from(leaf_paths(body)))
    if not path:
        return draw(JSON)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JSON)
    return body


@FAST
@given(mutated_samples())
def test_mutated_samples_parse_or_are_malformed(body: Any) -> None:
    parses_or_is_malformed(body)
    parses_or_is_malformed(json.dumps(body))
