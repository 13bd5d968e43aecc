"""Workflow file validation and output key templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trigger_service.errors import UnsafeOutputKey, WorkflowConfigError
from trigger_service.workflows.keys import KeyTemplate
from trigger_service.workflows.model import load_workflows, parse_workflows


def _file(**overrides: Any) -> dict[str, Any]:
    workflow: dict[str, Any] = {
        "trigger": {"bucket": "uploads", "prefix": "incoming/", "suffix": [".bin"]},
        "steps": [{"gzip": {"level": 9}}, "passthrough"],
        "output": {"bucket": "uploads", "key": "processed/{stem}.gz"},
    }
    workflow.update(overrides)
    return {"workflows": {"archive": workflow}}


def test_valid_file_loads_with_defaults() -> None:
    workflow = parse_workflows(_file()).get("archive")
    assert [s.label for s in workflow.steps] == ["gzip", "passthrough"]
    assert workflow.steps[0].params.model_dump() == {"level": 9}
    assert workflow.retry.attempts == 3
    assert workflow.timeout_seconds == 300
    assert workflow.trigger.events == ("ObjectCreated:*",)
    assert workflow.content_type == "application/octet-stream"


def test_yaml_file_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "workflows:\n  w:\n    trigger: {bucket: uploads}\n    steps: [passthrough]\n"
        "    output: {bucket: results, key: '{key}'}\n"
    )
    assert parse_workflows is not None
    assert load_workflows(path).get("w").output.bucket == "results"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"steps": [{"gzip": {"level": 42}}]}, "workflows.archive.steps[0]: gzip.level"),
        ({"steps": [{"gzip": {"levle": 1}}]}, "gzip.levle: Extra inputs are not permitted"),
        ({"steps": [{"nope": {}}]}, "unknown step 'nope'"),
        ({"steps": []}, "workflows.archive.steps: List should have at least 1 item"),
        ({"steps": [{"gzip": {}, "gunzip": {}}]}, "exactly one name"),
        ({"steps": ["no.such.module:fn"]}, "cannot import module 'no.such.module'"),
        ({"output": {"bucket": "uploads"}}, "workflows.archive.output.key: Field required"),
        ({"output": {"bucket": "results", "key": "{oops}"}}, "unknown variable(s) oops"),
        ({"retry": {"attempts": 0}}, "workflows.archive.retry.attempts"),
        ({"timeout_seconds": -1}, "workflows.archive.timeout_seconds"),
        ({"trigger": {"bucket": "uploads", "events": ["Put"]}}, "trigger.events"),
        ({"colour": "red"}, "workflows.archive.colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_fields_are_named(change: dict[str, Any], fragment: str) -> None:
    with pytest.raises(WorkflowConfigError) as caught:
        parse_workflows(_file(**change))
    assert fragment in caught.value.message


def test_output_that_could_retrigger_is_rejected() -> None:
    with pytest.raises(WorkflowConfigError, match="could trigger this workflow again"):
        parse_workflows(
            _file(
                trigger={"bucket": "uploads", "prefix": "", "suffix": [".gz"]},
                output={"bucket": "uploads", "key": "processed/{stem}.gz"},
            )
        )


def test_output_excluded_by_prefix_or_suffix_is_accepted() -> None:
    parse_workflows(_file(output={"bucket": "uploads", "key": "processed/{key}"}))
    parse_workflows(
        _file(
            trigger={"bucket": "uploads", "suffix": [".bin"]},
            output={"bucket": "uploads", "key": "{stem}.gz"},
        )
    )


def test_yaml_errors_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflows: [unclosed")
    with pytest.raises(WorkflowConfigError, match="not valid YAML"):
        load_workflows(bad)
    with pytest.raises(WorkflowConfigError, match="cannot read workflow file"):
        load_workflows(tmp_path / "missing.yaml")


def test_trigger_matching() -> None:
    trigger = parse_workflows(_file()).get("archive").trigger
    assert trigger.accepts_key("incoming/a/b.BIN")
    assert not trigger.accepts_key("incoming/a.txt")
    assert not trigger.accepts_key("other/a.bin")
    assert trigger.accepts_event("ObjectCreated:CompleteMultipartUpload")
    assert trigger.accepts_event("s3:ObjectCreated:Put")
    assert not trigger.accepts_event("ObjectRemoved:Delete")


@pytest.mark.parametrize(
    ("template", "key", "fmt", "expected"),
    [
        ("processed/{stem}.{ext}", "incoming/cat.photo.PNG", "jpeg", "processed/cat.photo.jpg"),
        ("processed/{stem}.{ext}", "incoming/cat.png", None, "processed/cat.png"),
        ("out/{dir}/{name}", "a/b/c.txt", None, "out/a/b/c.txt"),
        ("out/{key}", "ünïcode +%20 key.bin", None, "out/ünïcode +%20 key.bin"),
        ("out/{execution_id}/{stem}", "noext", None, "out/E1/noext"),
        ("out/{stem}.{ext}", "noext", None, "out/noext"),
    ],
)
def test_key_template_renders(template: str, key: str, fmt: str | None, expected: str) -> None:
    assert KeyTemplate(template).render(key, execution_id="E1", output_format=fmt) == expected


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "a/../../b", "x\x00y", "line\nbreak", "./x", "a/./b"]
)
def test_key_template_refuses_escapes(key: str) -> None:
    with pytest.raises(UnsafeOutputKey):
        KeyTemplate("processed/{key}").render(key, execution_id="E", output_format=None)


def test_key_template_refuses_absolute_template() -> None:
    with pytest.raises(WorkflowConfigError):
        KeyTemplate("/abs/{key}")
