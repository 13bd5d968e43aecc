"""Fan-out workflow files: branches validated with named fields; planning around the tee."""

from __future__ import annotations

from typing import Any

import pytest

from trigger_service.errors import WorkflowConfigError
from trigger_service.workflows.loops import under_own_output
from trigger_service.workflows.model import Workflow, parse_workflows


def _outputs(*branches: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    workflow: dict[str, Any] = {
        "trigger": {"bucket": "uploads", "prefix": "incoming/", "suffix": [".jpg", ".png"]},
        "outputs": list(branches),
    }
    workflow.update(overrides)
    return {"workflows": {"renditions": workflow}}


THUMB = {
    "name": "thumb",
    "steps": [{"compress": {"max_width": 320, "max_height": 320, "format": "webp"}}],
    "key": "thumbs/{stem}-320.webp",
}
PAGE = {
    "name": "page",
    "steps": [
        {"compress": {"max_width": 1024, "max_height": 1024, "format": "jpeg", "quality": 82}},
        {"watermark": {"text": "© Example", "position": "bottom-right"}},
    ],
    "key": "page/{stem}.jpg",
    "bucket": "public",
}
FULL = {
    "name": "original-webp",
    "steps": [{"compress": {"format": "webp"}}],
    "key": "full/{stem}.{ext}",
}


def _load(data: dict[str, Any]) -> Workflow:
    return parse_workflows(data).get("renditions")


def test_the_issue_example_loads_with_branch_defaults() -> None:
    workflow = _load(_outputs(THUMB, PAGE, FULL, steps=[{"rotate": {"angle": 0}}]))
    assert workflow.fan_out
    assert [b.name for b in workflow.branches] == ["thumb", "page", "original-webp"]
    thumb, page, full = workflow.branches
    assert thumb.output.bucket == "uploads" and page.output.bucket == "public"
    assert (thumb.content_type, page.content_type, full.content_type) == (
        "image/webp",
        "image/jpeg",
        "image/webp",
    )
    assert full.render_key("incoming/cat.png", "E1") == "full/cat.webp"
    assert parse_workflows(_outputs(THUMB, PAGE)).buckets() == {"uploads", "public"}


def test_output_variable_is_the_branch_name() -> None:
    branch = {"name": "small", "steps": [], "key": "out/{output}/{stem}.{ext}"}
    workflow = _load(_outputs(branch))
    assert workflow.branches[0].render_key("incoming/a.jpg", "E") == "out/small/a.jpg"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (_outputs(THUMB, {**THUMB, "key": "other/{stem}"}), "outputs[1].name: 'thumb' is already"),
        (_outputs({**THUMB, "name": "bad name"}), "outputs.0.name: String should match pattern"),
        (_outputs({**THUMB, "key": ""}), "outputs.0.key: String should have at least 1"),
        (_outputs({"name": "x", "steps": [{"nope": {}}], "key": "o/{key}"}), "outputs[0].steps[0]"),
        (_outputs({**THUMB, "colour": 1}), "outputs.0.colour: Extra inputs are not permitted"),
        (_outputs(), "outputs: List should have at least 1 item"),
        (
            _outputs(THUMB, output={"bucket": "uploads", "key": "o/{key}"}),
            "give either 'output' (one output) or 'outputs' (a list of branches), not both",
        ),
        (
            {
                "workflows": {
                    "renditions": {"trigger": {"bucket": "uploads"}, "steps": ["passthrough"]}
                }
            },
            "give either 'output'",
        ),
        (
            _outputs(THUMB, {**PAGE, "bucket": None, "key": "thumbs/{stem}-320.webp"}),
            "outputs[1].key: 'thumbs/{stem}-320.webp' can write the same key",
        ),
        (
            _outputs(
                {**THUMB, "key": "o/{key}"}, {**PAGE, "bucket": None, "key": "o/{dir}/{name}"}
            ),
            "as outputs[0] ('thumb')",
        ),
        (
            _outputs(THUMB, {**PAGE, "bucket": None, "key": "incoming/{stem}.{ext}"}),
            "workflows.renditions.outputs[1].key: outputs in s3://uploads/incoming/ could trigger",
        ),
    ],
)
def test_bad_branches_are_named(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(WorkflowConfigError) as caught:
        parse_workflows(data)
    assert fragment in caught.value.message


def test_keys_differing_by_format_or_bucket_do_not_collide() -> None:
    same_template = {**PAGE, "bucket": None, "key": "r/{stem}.{ext}"}
    other = {**THUMB, "key": "r/{stem}.{ext}"}
    _load(_outputs(other, same_template))  # webp vs jpg
    _load(_outputs(other, {**other, "name": "copy", "bucket": "archive"}))


def test_a_branch_in_the_watched_prefix_is_refused_unless_its_suffix_excludes_it() -> None:
    _load(
        _outputs(
            {**THUMB, "key": "incoming/{stem}.webp"},
            trigger={"bucket": "uploads", "prefix": "incoming/", "suffix": [".jpg"]},
        )
    )
    with pytest.raises(WorkflowConfigError, match=r"outputs\[1\]\.key"):
        _load(_outputs(THUMB, {**PAGE, "bucket": "uploads", "key": "incoming/{stem}.jpg"}))


def test_output_variable_is_refused_in_a_single_output_workflow() -> None:
    data = {
        "workflows": {
            "w": {
                "trigger": {"bucket": "uploads"},
                "steps": ["passthrough"],
                "output": {"bucket": "out-bucket", "key": "{output}/{key}"},
            }
        }
    }
    with pytest.raises(WorkflowConfigError, match=r"output\.key: \{output\} is the branch name"):
        parse_workflows(data)


def test_routing_ignores_keys_under_any_branch_prefix() -> None:
    workflow = _load(_outputs(THUMB, PAGE))
    assert under_own_output(workflow, "uploads", "thumbs/a.webp") is not None
    assert under_own_output(workflow, "public", "page/a.jpg") is not None
    assert under_own_output(workflow, "uploads", "page/a.jpg") is None


def _labels(steps: list[Any]) -> list[str]:
    return [s.label for s in steps]


def test_one_decode_before_the_tee_sized_for_the_largest_branch() -> None:
    workflow = _load(_outputs(THUMB, PAGE))
    shared, branches = workflow.planned_fan_out()
    assert _labels(shared) == ["decode"]
    assert shared[0].params.model_dump()["target_size"] == (1024, 1024)
    assert [_labels(b) for b in branches] == [
        ["compress", "encode"],
        ["compress", "watermark", "encode"],
    ]


def test_a_branch_wanting_full_size_turns_shrink_on_load_off() -> None:
    shared, _ = _load(_outputs(THUMB, FULL)).planned_fan_out()
    assert _labels(shared) == ["decode"]
    assert shared[0].params.model_dump()["target_size"] is None


def test_shared_picture_steps_and_mixed_branches() -> None:
    gzip_branch = {"name": "raw", "steps": [{"gzip": {}}], "key": "raw/{key}.gz"}
    shared, branches = _load(_outputs(THUMB, gzip_branch)).planned_fan_out()
    assert _labels(shared) == []  # a byte branch: the tee carries bytes, each branch decodes
    assert [_labels(b) for b in branches] == [["decode", "compress", "encode"], ["gzip"]]

    rotated = _load(_outputs(THUMB, gzip_branch, steps=[{"rotate": {"angle": 90}}]))
    shared, branches = rotated.planned_fan_out()
    assert _labels(shared) == ["decode", "rotate"]
    assert [_labels(b) for b in branches] == [["compress", "encode"], ["encode", "gzip"]]
