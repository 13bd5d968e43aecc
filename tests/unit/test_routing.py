"""Routing: which workflows an event starts, the loop guard, idempotency keys."""

from __future__ import annotations

from typing import Any

import pytest

from storage_adapter import ObjectInfo
from trigger_service.events.parse import ObjectEvent
from trigger_service.intake.routing import (
    REASON_NO_WORKFLOW,
    idempotency_key,
    ignore_reason,
    route_event,
)
from trigger_service.workflows.loops import (
    REASON_DIRECT_UPLOAD,
    REASON_EXECUTION_OUTPUT,
    REASON_OWN_OUTPUT,
    under_own_output,
)
from trigger_service.workflows.model import Workflows, parse_workflows


def _workflows(**specs: dict[str, Any]) -> Workflows:
    data: dict[str, Any] = {"workflows": {}}
    for name, spec in specs.items():
        data["workflows"][name] = {
            "steps": ["passthrough"],
            "output": {"bucket": "uploads", "key": "processed/{stem}.out"},
            **spec,
        }
    return parse_workflows(data)


def _event(key: str, *, bucket: str = "uploads", name: str = "ObjectCreated:Put") -> ObjectEvent:
    return ObjectEvent(
        bucket=bucket,
        key=key,
        size=1,
        etag="abc",
        version_id=None,
        event_name=name,
        sequencer=None,
        event_time=None,
        source="aws",
    )


FLOWS = _workflows(
    photos={
        "trigger": {"bucket": "uploads", "prefix": "incoming/", "suffix": [".jpg", ".png"]},
    },
    everything={"trigger": {"bucket": "uploads", "suffix": ".bin"}},
    removals={
        "trigger": {"bucket": "uploads", "events": ["ObjectRemoved:*"], "prefix": "incoming/"},
    },
    elsewhere={
        "trigger": {"bucket": "other-bucket"},
        "output": {"bucket": "results", "key": "{key}"},
    },
)


def _names(key: str, **kw: Any) -> list[str]:
    return [w.name for w in route_event(FLOWS, _event(key, **kw)).workflows]


def test_prefix_and_case_insensitive_suffix_select_the_workflow() -> None:
    assert _names("incoming/a.jpg") == ["photos"]
    assert _names("incoming/A.JPG") == ["photos"]
    assert _names("incoming/a.gif") == []
    assert _names("elsewhere/a.jpg") == []


def test_bucket_and_event_name_must_match() -> None:
    assert _names("incoming/a.jpg", bucket="nope") == []
    assert _names("incoming/a.jpg", name="ObjectRemoved:Delete") == ["removals"]
    assert _names("x", bucket="other-bucket", name="ObjectCreated:CompleteMultipartUpload") == [
        "elsewhere"
    ]


def test_an_event_may_start_several_workflows() -> None:
    assert _names("incoming/a.bin") == ["everything"]
    both = _workflows(
        a={"trigger": {"bucket": "uploads"}, "output": {"bucket": "x-out", "key": "{key}"}},
        b={"trigger": {"bucket": "uploads"}, "output": {"bucket": "y-out", "key": "{key}"}},
    )
    assert [w.name for w in route_event(both, _event("k")).workflows] == ["a", "b"]


def test_nothing_matching_is_ignored_with_a_reason() -> None:
    routing = route_event(FLOWS, _event("incoming/a.gif"))
    assert routing.workflows == ()
    (ignored,) = routing.ignored
    assert ignored.reason == REASON_NO_WORKFLOW
    assert "s3://uploads/incoming/a.gif" in ignored.detail


def test_keys_under_the_workflows_own_output_prefix_never_start_it() -> None:
    routing = route_event(FLOWS, _event("processed/sneaky.bin"))
    assert routing.workflows == ()
    (ignored,) = routing.ignored
    assert ignored.reason == REASON_OWN_OUTPUT
    assert "everything" in ignored.detail and "processed/" in ignored.detail


def test_own_output_guard_needs_the_same_bucket_and_a_literal_prefix() -> None:
    everything = FLOWS.get("everything")
    assert under_own_output(everything, "uploads", "processed/x")
    assert not under_own_output(everything, "elsewhere", "processed/x")
    assert not under_own_output(FLOWS.get("elsewhere"), "results", "anything")


def test_idempotency_key_prefers_the_version_and_ignores_null() -> None:
    by_etag = idempotency_key("w", "b", "k", version_id=None, etag="e1")
    assert by_etag == idempotency_key("w", "b", "k", version_id="null", etag="e1")
    assert by_etag != idempotency_key("w", "b", "k", version_id=None, etag="e2")
    by_version = idempotency_key("w", "b", "k", version_id="v1", etag="e1")
    assert by_version == idempotency_key("w", "b", "k", version_id="v1", etag="other")
    assert by_version != by_etag
    assert len(by_etag) == 64


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("w1", "b", "k"), ("w2", "b", "k")),
        (("w", "b1", "k"), ("w", "b2", "k")),
        (("w", "b", "k1"), ("w", "b", "k2")),
        (("w", "b", "a\0b"), ("w", "b\0a", "b")),
    ],
)
def test_idempotency_key_separates_its_parts(
    a: tuple[str, str, str], b: tuple[str, str, str]
) -> None:
    assert idempotency_key(*a, version_id=None, etag="e") != idempotency_key(
        *b, version_id=None, etag="e"
    )


def test_idempotency_key_needs_an_identity() -> None:
    with pytest.raises(ValueError):
        idempotency_key("w", "b", "k", version_id=None, etag=None)


def _info(metadata: dict[str, str]) -> ObjectInfo:
    return ObjectInfo(bucket="b", key="k", size=1, etag="e", metadata=metadata)


def test_outputs_and_direct_uploads_are_recognised_by_metadata() -> None:
    assert ignore_reason(_info({})) is None
    output = ignore_reason(_info({"bucketstream-execution": "ex1"}))
    assert output is not None and output.reason == REASON_EXECUTION_OUTPUT
    assert "ex1" in output.detail
    upload = ignore_reason(_info({"bucketstream-upload": "ex2"}))
    assert upload is not None and upload.reason == REASON_DIRECT_UPLOAD
