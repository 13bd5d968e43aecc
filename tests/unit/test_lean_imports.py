"""Work on local files loads only what it uses: no boto3 (~20 MB of RSS) without a store, no
``cryptography`` (~7 MB) or ``regex`` without the steps that need them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

WORKFLOW = """
workflows:
  photos:
    trigger: {bucket: uploads, prefix: "incoming/"}
    steps:
      - compress: {max_width: 64, max_height: 64, format: jpeg, quality: 80}
      - watermark: {text: "(c) Example", position: bottom-right, opacity: 0.5}
    output: {bucket: uploads, key: "processed/{stem}.{ext}"}
"""

#: Heavy modules only a client needs; ``botocore.exceptions`` (the error types) is cheap.
CLIENT_MODULES = ("boto3", "botocore.config", "botocore.session", "s3transfer")
#: ... and those only the encrypt/decrypt and lines steps need.
HEAVY_MODULES = (*CLIENT_MODULES, "cryptography", "regex")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1].replace("'", '"'))
    return loaded


@pytest.mark.parametrize(
    "module",
    [
        "trigger_service",
        "trigger_service.execution.process",
        "trigger_service.cli.commands",
        "trigger_service.cli.embedded",
        "trigger_service.api",
        "benchmarks.image_jobs",
        "benchmarks.jobs",
    ],
)
def test_importing_loads_no_heavy_module(module: str) -> None:
    assert _loaded_after(f"import {module}") == []


def test_process_command_on_a_local_image_loads_no_heavy_module(tmp_path: Path) -> None:
    config, source, out = tmp_path / "w.yaml", tmp_path / "in.jpg", tmp_path / "out.jpg"
    config.write_text(WORKFLOW)
    Image.new("RGB", (300, 200), (200, 80, 40)).save(source, "JPEG")
    argv = ["process", "-q", "--config", str(config), "--workflow", "photos", str(source), str(out)]
    code = (
        "from trigger_service.cli.commands import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code"
    )
    assert _loaded_after(code) == []
    with Image.open(out) as image:
        assert image.size == (64, 43)


def test_an_on_demand_gateway_makes_its_client_at_first_use() -> None:
    made = (
        "from storage_adapter import StorageIO, StorageSettings\n"
        "io = StorageIO.on_demand(StorageSettings(endpoint_url='http://127.0.0.1:9', "
        "region='us-east-1', io_concurrency=3))\n"
        "assert io.io_concurrency == 3\n"
    )
    assert _loaded_after(made) == []
    used = made + "assert io.client is io.client\nassert io.client.meta.region_name == 'us-east-1'"
    assert _loaded_after(used) == ["boto3", "botocore.config", "botocore.session", "s3transfer"]


def test_a_gateway_needs_a_client_or_settings() -> None:
    from storage_adapter import StorageIO

    with pytest.raises(TypeError, match="client or the settings"):
        StorageIO()
