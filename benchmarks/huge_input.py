"""``python -m benchmarks.huge_input [--seconds 60]``: peak RSS of ``bucketstream run`` copying a
1 TiB object for that long, against a whole 1 GiB copy; prints JSON.

The object is served by the small generating S3 of ``tests/support/huge_s3.py`` (HEAD answers
the huge size, ranges are made from their offsets). The short version is the functional test
``tests/functional/test_huge_input_memory.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.functional.test_huge_input_memory import CHILD, WORKFLOW, copy_until, peak_rss
from tests.support.huge_s3 import huge_s3

GiB, TiB = 1024**3, 1024**4


def copy_for(config: Path, size: int, seconds: float) -> dict[str, float]:
    """Peak RSS and bytes moved by ``run`` copying ``size`` bytes, stopped after ``seconds``."""
    with huge_s3(size) as (endpoint, state):
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        command = [sys.executable, "-c", CHILD, "run", "--config", str(config), "--workflow"]
        command += ["copy", "--endpoint-url", endpoint, "s3://source/incoming/a"]
        with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) as child:
            started, peak = time.monotonic(), 0
            while time.monotonic() - started < seconds and child.poll() is None:
                peak = max(peak, peak_rss(child.pid))
                time.sleep(0.1)
            if child.poll() is None:
                peak = max(peak, peak_rss(child.pid))
                child.kill()
            child.wait(timeout=30)
        return {"peak_rss_mib": round(peak / 2**20, 1), "bytes_read": state.bytes_served}


def main() -> None:
    """Run both copies and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    seconds = parser.parse_args().seconds
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "workflows.yaml"
        config.write_text(WORKFLOW)
        small, _ = copy_until(config, 1 * GiB, 1 * GiB)
        huge = copy_for(config, 1 * TiB, seconds)
    result = {
        "one_gib_copy_peak_rss_mib": round(small / 2**20, 1),
        "one_tib_copy": huge,
        "seconds": seconds,
        "ratio": round(huge["peak_rss_mib"] / (small / 2**20), 3),
        "goal": "ratio <= 1.10",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
