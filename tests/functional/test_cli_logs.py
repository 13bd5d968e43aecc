"""``--log-format json`` on the service: every line about a failed execution names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from click.testing import CliRunner

from tests.support.serving import ServeProcess
from tests.support.waiting import wait_for
from trigger_service.cli import main

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_every_log_line_of_a_failed_execution_carries_its_id(
    s3: S3Client, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    s3.put_object(Bucket=bucket, Key="in/broken.gz", Body=b"not gzip at all")
    config_file = tmp_path / "workflows.yaml"
    config_file.write_text(
        f"workflows:\n  unzip:\n    trigger: {{bucket: {bucket}, prefix: in/}}\n"
        f"    steps: [gunzip]\n    output: {{bucket: {bucket}, key: 'out/{{stem}}'}}\n"
        "    retry: {attempts: 2, backoff_seconds: 0}\n"
    )
    service = ServeProcess(
        config=config_file,
        endpoint=moto_endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        global_options=("-v",),
        env={"BUCKETSTREAM_LOG_FORMAT": "json"},
    )
    try:
        service.start()
        answer = httpx.post(
            f"{service.url}/workflows/unzip/executions",
            json={"bucket": bucket, "key": "in/broken.gz"},
            timeout=10,
        )
        execution_id = answer.json()["id"]
        wait_for(
            lambda: service.get(f"/executions/{execution_id}")["status"] == "failed", within=30
        )
        wait_for(lambda: "execution failed" in service.log(), within=10)
    finally:
        service.kill()
    lines = [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]
    assert lines, service.log()
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys(), line
    about = [line for line in lines if execution_id in json.dumps(line)]
    assert any(line.get("step") == "gunzip" or "failed" in line["message"] for line in about)
    assert about and all(line.get("execution_id") == execution_id for line in about), about
    failure = [line for line in about if "execution failed" in line["message"]]
    assert failure and failure[0]["workflow"] == "unzip"


def test_log_format_is_an_option_of_every_command() -> None:
    runner = CliRunner()
    for command in ("run", "process", "serve", "demo"):
        assert "--log-format" in runner.invoke(main, [command, "--help"]).output, command
    assert "BUCKETSTREAM_LOG_FORMAT" in runner.invoke(main, ["--help"]).output
    bad = runner.invoke(main, ["--log-format", "xml", "run", "--help"])
    assert bad.exit_code == 2
