"""Service settings: file section < BUCKETSTREAM_* variables < flags; secrets never from files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from trigger_service.cli import main
from trigger_service.cli.config import MASK, load_settings, read_settings_file
from trigger_service.errors import WorkflowConfigError
from trigger_service.workflows.model import load_workflows

WORKFLOWS = """
workflows:
  archive:
    trigger: {bucket: uploads, prefix: incoming/}
    steps: [gzip]
    output: {bucket: uploads, key: "archived/{key}.gz"}
service:
  host: 127.0.0.2
  port: 9001
  queue-size: 7
  chunk_size: 1048576
  visibility_timeout: 120
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "PORT",
        "HOST",
        "TOKEN",
        "HMAC_SECRET",
        "QUEUE_URLS",
        "QUEUE_SIZE",
        "LOG_FORMAT",
        "STORE",
        "WORKER_ID",
    ):
        monkeypatch.delenv(f"BUCKETSTREAM_{name}", raising=False)


def _file(tmp_path: Path, text: str = WORKFLOWS) -> Path:
    path = tmp_path / "workflows.yaml"
    path.write_text(text)
    return path


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = read_settings_file(_file(tmp_path))
    settings = load_settings(values, {})
    assert (settings.host, settings.port, settings.queue_size) == ("127.0.0.2", 9001, 7)
    assert settings.transfer().chunk_size == 1048576
    assert settings.sqs().visibility_timeout == 120
    monkeypatch.setenv("BUCKETSTREAM_PORT", "9002")
    monkeypatch.setenv("BUCKETSTREAM_QUEUE_URLS", "http://q/1, http://q/2")
    settings = load_settings(values, {"host": None})
    assert (settings.host, settings.port) == ("127.0.0.2", 9002)
    assert settings.queue_urls == ["http://q/1", "http://q/2"]
    settings = load_settings(values, {"port": 9003, "queue_urls": ["http://q/3"]})
    assert (settings.port, settings.queue_urls) == (9003, ["http://q/3"])


def test_the_workflow_file_with_a_service_section_still_loads(tmp_path: Path) -> None:
    assert [w.name for w in load_workflows(_file(tmp_path))] == ["archive"]


def test_a_separate_settings_file_may_be_a_plain_mapping(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("port: 7000\nconcurrency: 3\n")
    assert load_settings(read_settings_file(path), {}).concurrency == 3


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("  token: abc\n", "service.token: secrets are read only from the environment"),
        ("  hmac_secret: abc\n", "BUCKETSTREAM_HMAC_SECRET"),
        ("  port: 70000\n", "service.port"),
        ("  prot: 80\n", "service.prot: Extra inputs are not permitted"),
        ("  part_size: 1024\n", "service.part_size"),
        ("  wait_seconds: 30\n", "service.wait_seconds"),
    ],
)
def test_bad_settings_name_the_field(tmp_path: Path, section: str, fragment: str) -> None:
    path = _file(tmp_path, WORKFLOWS.split("service:")[0] + "service:\n" + section)
    with pytest.raises(WorkflowConfigError) as caught:
        load_settings(read_settings_file(path), {}, source=str(path))
    assert fragment in caught.value.message


def test_a_settings_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(WorkflowConfigError, match="must be a mapping"):
        read_settings_file(path)


# serve tunes the allocator at start-up: ctypes.util.find_library runs ldconfig
@pytest.mark.functional
def test_print_settings_masks_secrets(tmp_path: Path) -> None:
    path = _file(tmp_path)
    result = CliRunner().invoke(
        main,
        ["serve", "--config", str(path), "--port", "9100", "--print-settings"],
        env={
            "BUCKETSTREAM_TOKEN": "very-secret",
            "BUCKETSTREAM_QUEUE_SIZE": "9",
            "BUCKETSTREAM_STORE": "postgresql://bucketstream:db-password@db:5432/executions",
        },
    )
    assert result.exit_code == 0, result.output
    assert "very-secret" not in result.output and "db-password" not in result.output
    shown = json.loads(result.output)
    assert shown["token"] == MASK and shown["hmac_secret"] is None
    assert (shown["host"], shown["port"], shown["queue_size"]) == ("127.0.0.2", 9100, 9)
    assert shown["store"] == "postgresql://db:5432/executions"
    bad = CliRunner().invoke(
        main, ["serve", "--config", str(path), "--print-settings"], env={"BUCKETSTREAM_PORT": "x"}
    )
    assert bad.exit_code != 0 and "service.port" in bad.output
