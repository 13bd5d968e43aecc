"""The README's memory formula, computed by ``TransferSettings.memory_bound``, holds in a run.

``bucketstream run`` copies objects of two sizes in child processes with small transfer sizes;
each child reports how far its RSS rose during the run. Above the rise of copying a tiny object
(clients, thread stacks), a copy may use at most the formula's bound, whatever the size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from storage_adapter import TransferSettings
from tests.support.storage import MiB

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SETTINGS = TransferSettings(
    chunk_size=1 * MiB, read_ahead=2, part_size=5 * MiB, parts_in_flight=2, channel_capacity=2
)
#: Allocator and interpreter noise between two runs of the same command (arenas, caches).
NOISE = 12 * MiB

#: Runs the CLI and prints, on the last line of stderr, how far its resident memory rose above
#: what it was after the imports (Linux: writing 5 to clear_refs resets the peak, VmHWM).
CHILD = """
import sys
from pathlib import Path
from trigger_service.cli import main

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)

Path("/proc/self/clear_refs").write_text("5")
start = status("VmRSS")
try:
    main(sys.argv[1:])
finally:
    print("peak_rss_rise", status("VmHWM") - start, file=sys.stderr)
"""

WORKFLOW = """
workflows:
  copy:
    trigger: {{bucket: {bucket}, prefix: "incoming/"}}
    steps: [passthrough]
    output: {{bucket: {bucket}, key: "copies/{{name}}"}}
"""


def _peak_rss_of_copy(config: Path, endpoint: str, url: str) -> int:
    env = {
        **os.environ,
        "BUCKETSTREAM_CHUNK_SIZE": str(SETTINGS.chunk_size),
        "BUCKETSTREAM_READ_AHEAD": str(SETTINGS.read_ahead),
        "BUCKETSTREAM_PART_SIZE": str(SETTINGS.part_size),
        "BUCKETSTREAM_PARTS_IN_FLIGHT": str(SETTINGS.parts_in_flight),
        "BUCKETSTREAM_CHANNEL_CAPACITY": str(SETTINGS.channel_capacity),
    }
    command = ["run", "--config", str(config), "--workflow", "copy", "--endpoint-url", endpoint]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *command, url],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["status"] == "succeeded"
    last = done.stderr.strip().splitlines()[-1].split()
    assert last[0] == "peak_rss_rise"
    return int(last[1])


def test_formula_is_the_readme_one() -> None:
    defaults = TransferSettings()
    assert defaults.memory_bound(steps=1) == 60 * MiB  # README: 8 + 12 + 40 MiB
    assert SETTINGS.memory_bound(steps=1) == (2 + 6 + 15) * MiB


@pytest.mark.timeout(600)
def test_a_copy_stays_within_the_formula_whatever_the_size(
    s3: S3Client, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    config = tmp_path / "workflows.yaml"
    config.write_text(WORKFLOW.format(bucket=bucket))
    bound = SETTINGS.memory_bound(steps=1)
    sizes = {"tiny": 1024, "medium": 2 * bound, "large": 5 * bound}
    for name, size in sizes.items():
        s3.put_object(Bucket=bucket, Key=f"incoming/{name}", Body=os.urandom(size))

    baseline = _peak_rss_of_copy(config, moto_endpoint, f"s3://{bucket}/incoming/tiny")
    used = {
        name: _peak_rss_of_copy(config, moto_endpoint, f"s3://{bucket}/incoming/{name}") - baseline
        for name in ("medium", "large")
    }
    print(f"memory bound {bound} B; RSS rise above a tiny copy: {used}")
    assert used["medium"] <= bound + NOISE, (used, bound)
    assert used["large"] <= bound + NOISE, (used, bound)
    # Flat: five times the data costs no more than twice does.
    assert used["large"] <= used["medium"] + NOISE, used
    # And the bound is not vacuous: copying does hold parts and chunks.
    assert used["large"] >= SETTINGS.part_size, used
