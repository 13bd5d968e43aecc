"""``bucketstream run`` end to end against the moto server."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from trigger_service.cli.commands import main

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

WORKFLOW = """
workflows:
  archive:
    trigger: {{bucket: {bucket}, prefix: "incoming/"}}
    steps:
      - gzip: {{level: 6}}
    output: {{bucket: {bucket}, key: "archived/{{key}}.gz"}}
  copy:
    trigger: {{bucket: {bucket}, prefix: "incoming/"}}
    steps: [passthrough]
    output: {{bucket: {bucket}, key: "copies/{{name}}"}}
  both:
    trigger: {{bucket: {bucket}, prefix: "incoming/"}}
    outputs:
      - {{name: zip, steps: [gzip], key: "both/{{name}}.gz"}}
      - {{name: copy, steps: [passthrough], key: "both/{{name}}"}}
"""


@pytest.fixture
def config(tmp_path: Path, bucket: str) -> Path:
    path = tmp_path / "workflows.yaml"
    path.write_text(WORKFLOW.format(bucket=bucket))
    return path


def _run(config: Path, endpoint: str, workflow: str, url: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["run", "--config", str(config), "--workflow", workflow, "--endpoint-url", endpoint, url],
    )
    return result.exit_code, result.stdout, result.stderr


def test_run_gzip_prints_execution_json(
    s3: S3Client, bucket: str, config: Path, moto_endpoint: str
) -> None:
    payload = b"hello streaming world\n" * 50_000
    s3.put_object(Bucket=bucket, Key="incoming/a b+c.txt", Body=payload)
    code, out, _ = _run(config, moto_endpoint, "archive", f"s3://{bucket}/incoming/a b+c.txt")
    assert code == 0, out
    record = json.loads(out)
    assert record["status"] == "succeeded"
    assert record["workflow"] == "archive"
    assert record["input"]["size"] == len(payload)
    assert record["error"] is None
    assert record["output"]["key"] == "incoming/a b+c.txt.gz".replace(
        "incoming/", "archived/incoming/"
    )
    assert [s["name"] for s in record["steps"]] == ["read", "gzip", "write"]
    assert record["steps"][0]["bytes_out"] == len(payload)
    assert record["created_at"].endswith("Z")
    body = s3.get_object(Bucket=bucket, Key=record["output"]["key"])
    assert gzip.decompress(body["Body"].read()) == payload
    assert body["Metadata"]["bucketstream-execution"] == record["id"]
    assert record["output"]["size"] == body["ContentLength"]


def test_run_missing_object_fails_with_code(bucket: str, config: Path, moto_endpoint: str) -> None:
    code, out, _ = _run(config, moto_endpoint, "copy", f"s3://{bucket}/incoming/nope.bin")
    assert code == 1
    record = json.loads(out)
    assert record["status"] == "failed"
    assert record["error"]["code"] == "NoSuchKey"
    assert record["output"] is None


def test_run_refuses_to_process_an_output(
    s3: S3Client, bucket: str, config: Path, moto_endpoint: str
) -> None:
    s3.put_object(Bucket=bucket, Key="incoming/x.bin", Body=b"data")
    code, out, _ = _run(config, moto_endpoint, "copy", f"s3://{bucket}/incoming/x.bin")
    assert code == 0
    output_key = json.loads(out)["output"]["key"]
    s3.copy_object(
        Bucket=bucket,
        Key="incoming/again.bin",
        CopySource={"Bucket": bucket, "Key": output_key},
    )
    code, out, _ = _run(config, moto_endpoint, "copy", f"s3://{bucket}/incoming/again.bin")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "LoopPrevented"


def test_run_unknown_workflow_is_a_clear_error(config: Path, moto_endpoint: str) -> None:
    code, _, err = _run(config, moto_endpoint, "nope", "s3://b/k")
    assert code == 1
    assert "UnknownWorkflow" in err and "archive" in err


def test_run_without_credentials_names_the_problem(
    bucket: str, config: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, _ = _run(config, moto_endpoint, "copy", f"s3://{bucket}/incoming/x.bin")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "NoCredentials"


def test_run_against_a_dead_endpoint_is_transient(bucket: str, config: Path) -> None:
    from trigger_service.cli.embedded import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    code, out, _ = _run(config, dead, "copy", f"s3://{bucket}/incoming/x.bin")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["code"] == "StorageUnavailable" and error["transient"] is True


def test_run_fan_out_prints_every_output(
    s3: S3Client, bucket: str, config: Path, moto_endpoint: str
) -> None:
    payload = b"fan out\n" * 10_000
    s3.put_object(Bucket=bucket, Key="incoming/f.txt", Body=payload)
    code, out, _ = _run(config, moto_endpoint, "both", f"s3://{bucket}/incoming/f.txt")
    assert code == 0, out
    record = json.loads(out)
    assert record["output"] is None
    assert [(o["name"], o["key"]) for o in record["outputs"]] == [
        ("zip", "both/f.txt.gz"),
        ("copy", "both/f.txt"),
    ]
    assert record["outputs"][1]["size"] == len(payload)
    body = s3.get_object(Bucket=bucket, Key="both/f.txt.gz")["Body"].read()
    assert gzip.decompress(body) == payload
    assert [s["name"] for s in record["steps"]] == [
        "read",
        "tee",
        "zip.gzip",
        "zip.write",
        "copy.passthrough",
        "copy.write",
    ]
