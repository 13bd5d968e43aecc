"""``bucketstream process``: a workflow's steps on local files."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from click.testing import CliRunner

from trigger_service.cli.commands import main

WORKFLOW = """
workflows:
  archive:
    trigger: {bucket: uploads, prefix: "incoming/"}
    steps: [gzip]
    output: {bucket: uploads, key: "archived/{key}.gz"}
  unpack:
    trigger: {bucket: uploads, prefix: "incoming/"}
    steps: [gunzip]
    output: {bucket: uploads, key: "unpacked/{key}"}
"""


def _process(tmp_path: Path, workflow: str, source: Path, out: Path) -> tuple[int, str, str]:
    config = tmp_path / "w.yaml"
    config.write_text(WORKFLOW)
    result = CliRunner().invoke(
        main, ["process", "--config", str(config), "--workflow", workflow, str(source), str(out)]
    )
    return result.exit_code, result.stdout, result.stderr


def test_process_gzip_round_trip(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024) + b"tail"
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    code, out, err = _process(tmp_path, "archive", source, tmp_path / "out.gz")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["input"]["size"] == len(data)
    assert [s["name"] for s in summary["steps"]] == ["read", "gzip", "write"]
    assert gzip.decompress((tmp_path / "out.gz").read_bytes()) == data


def test_process_bad_input_exits_1_and_leaves_no_output(tmp_path: Path) -> None:
    source = tmp_path / "not-gzip.bin"
    source.write_bytes(b"this is not gzip data at all")
    out = tmp_path / "out.bin"
    code, _, err = _process(tmp_path, "unpack", source, out)
    assert code == 1
    assert "InvalidCompressedData" in err and "gunzip" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-gzip.bin", "w.yaml"]
    assert source.read_bytes() == b"this is not gzip data at all"


def test_process_missing_input(tmp_path: Path) -> None:
    code, _, err = _process(tmp_path, "archive", tmp_path / "missing.bin", tmp_path / "o")
    assert code == 1
    assert "does not exist" in err
