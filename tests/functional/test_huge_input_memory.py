"""Reading a 1 TiB object costs the memory of reading a 1 GiB one.

``bucketstream run`` copies from a small S3 over HTTP (:mod:`tests.support.huge_s3`) that
answers HEAD with the object's size and generates every range. The 1 GiB object is copied
whole; the 1 TiB one until as many bytes went through (its copy would take hours), then the
process is stopped. The peak resident memory of both must be within 10 % of each other: the
reader makes its range slots as its window advances, never one per range of the object. The
full-length variant is ``benchmarks/huge_input.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.huge_s3 import HugeS3State, huge_s3

GiB, TiB = 1024**3, 1024**4
#: Bytes each copy moves before its peak memory is read.
MOVED = 1 * GiB
WORKFLOW = """
workflows:
  copy:
    trigger: {bucket: source, prefix: "incoming/"}
    steps: [passthrough]
    output: {bucket: copies, key: "copies/{name}"}
"""
CHILD = "import sys; from trigger_service.cli import main; main(sys.argv[1:])"


def peak_rss(pid: int) -> int:
    """The process's peak resident memory (``VmHWM``), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise LookupError("VmHWM")


def copy_until(config: Path, size: int, moved: int) -> tuple[int, HugeS3State]:
    """Peak RSS of ``run`` copying an object of ``size`` bytes once ``moved`` bytes were read
    and written (or, for a smaller object, when its copy finished)."""
    with huge_s3(size) as (endpoint, state):
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        command = [sys.executable, "-c", CHILD, "run", "--config", str(config)]
        command += ["--workflow", "copy", "--endpoint-url", endpoint, "s3://source/incoming/a"]
        with subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as child:
            peak = 0
            deadline = time.monotonic() + 240  # a guard against a hang, not a speed bound
            while min(state.bytes_served, state.bytes_uploaded) < moved:
                assert child.poll() is None, child.stderr.read()[-2000:] if child.stderr else ""
                assert time.monotonic() < deadline, "the copy stalled"
                peak = max(peak, peak_rss(child.pid))
                time.sleep(0.05)
            peak = max(peak, peak_rss(child.pid))
            if size <= moved:
                out, err = child.communicate(timeout=60)
                assert child.returncode == 0, err[-2000:]
                assert json.loads(out)["status"] == "succeeded"
            else:
                child.kill()
                child.wait(timeout=30)
        assert not state.unknown, state.unknown
        return peak, state


@pytest.mark.timeout(300)
def test_a_terabyte_input_holds_the_memory_of_a_gigabyte_one(tmp_path: Path) -> None:
    config = tmp_path / "workflows.yaml"
    config.write_text(WORKFLOW)
    small, small_state = copy_until(config, 1 * GiB, MOVED)
    huge, huge_state = copy_until(config, 1 * TiB, MOVED)
    print(f"peak RSS: 1 GiB copy {small / 2**20:.1f} MiB, 1 TiB copy {huge / 2**20:.1f} MiB")
    assert small_state.completed and huge_state.bytes_served >= MOVED
    assert huge <= small * 1.10, (huge, small)
