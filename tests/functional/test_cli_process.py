"""``bucketstream process``: a workflow's steps on local files."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

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


FAN_OUT = """
workflows:
  renditions:
    trigger: {bucket: uploads, prefix: "incoming/"}
    outputs:
      - name: thumb
        steps: [compress: {max_width: 64, max_height: 64, format: webp}]
        key: "thumbs/{stem}.webp"
      - name: page
        steps: [compress: {max_width: 200, format: jpeg}]
        key: "page/{stem}.jpg"
  split:
    trigger: {bucket: uploads, prefix: "incoming/"}
    outputs:
      - {name: zip, steps: [gzip], key: "z/{key}.gz"}
      - {name: bad, steps: [gunzip], key: "u/{key}"}
"""


def _process_fan_out(
    tmp_path: Path, workflow: str, source: Path, out: Path
) -> tuple[int, str, str]:
    config = tmp_path / "fan.yaml"
    config.write_text(FAN_OUT)
    result = CliRunner().invoke(
        main, ["process", "--config", str(config), "--workflow", workflow, str(source), str(out)]
    )
    return result.exit_code, result.stdout, result.stderr


def test_process_fan_out_writes_one_file_per_output_beside_or_into_destination(
    tmp_path: Path,
) -> None:
    source = tmp_path / "photo.png"
    Image.linear_gradient("L").resize((400, 300)).convert("RGB").save(source)
    code, out, err = _process_fan_out(tmp_path, "renditions", source, tmp_path / "out.jpg")
    assert code == 0, err
    summary = json.loads(out)
    assert [o["name"] for o in summary["outputs"]] == ["thumb", "page"]
    thumb, page = Image.open(tmp_path / "out.thumb.webp"), Image.open(tmp_path / "out.page.jpg")
    assert (thumb.format, thumb.size) == ("WEBP", (64, 48))
    assert (page.format, page.size) == ("JPEG", (200, 150))
    assert [s["name"] for s in summary["steps"]].count("decode") == 1
    assert not (tmp_path / "out.jpg").exists()

    folder = tmp_path / "renditions"
    folder.mkdir()
    code, _, err = _process_fan_out(tmp_path, "renditions", source, folder)
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["photo.page.jpg", "photo.thumb.webp"]


def test_process_fan_out_failing_output_leaves_no_file(tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"not gzip data" * 1000)
    code, _, err = _process_fan_out(tmp_path, "split", source, tmp_path / "out.bin")
    assert code == 1
    assert "InvalidCompressedData" in err and "bad.gunzip" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fan.yaml", "in.bin"]


def test_process_single_output_into_a_directory_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"data")
    code, _, err = _process(tmp_path, "archive", source, tmp_path)
    assert code == 2 and "is a directory" in err
