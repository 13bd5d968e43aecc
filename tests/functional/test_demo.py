"""``bucketstream demo`` end to end: embedded S3 + SQS, service, real trigger path."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from rich.console import Console

from trigger_service.cli.demo import DEMO_WORKFLOWS, run_demo
from trigger_service.cli.samples import demo_samples
from trigger_service.workflows.model import parse_workflows


def test_demo_processes_every_sample_through_sqs(tmp_path: Path) -> None:
    console = Console(file=(tmp_path / "console.txt").open("w"), width=140)
    outcomes = run_demo(
        workflows=parse_workflows(yaml.safe_load(DEMO_WORKFLOWS)),
        samples=demo_samples(large=(1500, 1000)),
        output_dir=tmp_path / "out",
        console=console,
        keep_running=False,
        timeout=120,
    )
    console.file.close()
    assert [o.name for o in outcomes if not o.as_expected] == []
    by_name = {o.name: o for o in outcomes}
    assert by_name["broken.jpg"].record is not None
    assert by_name["broken.jpg"].record["error"]["code"] == "TruncatedImage"
    for name in ("harbour.jpg", "panorama.jpg", "portrait-exif6.jpg", "logo-alpha.png"):
        record = by_name[name].record
        assert record is not None and record["source"] == "sqs"
        assert (tmp_path / "out" / name).stat().st_size > 0
    saved = json.loads((tmp_path / "out" / "spinner.gif.execution.json").read_text())
    assert saved["status"] == "succeeded"
    table = (tmp_path / "console.txt").read_text()
    assert "TruncatedImage" in table and "320×240 ×6f → 320×240 ×6f" in table
