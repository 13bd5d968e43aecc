"""The allocator tuning is applied once on glibc and can be switched off."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    return result.stdout.strip()


def test_tuning_applies_and_is_idempotent() -> None:
    code = "from trigger_service.execution.allocator import tune_allocator as t; print(t(), t())"
    assert _run(code) == "True True"


def test_tuning_can_be_disabled() -> None:
    code = "from trigger_service.execution.allocator import tune_allocator as t; print(t())"
    assert _run(code, BUCKETSTREAM_MMAP_THRESHOLD="0") == "False"
    assert _run(code, BUCKETSTREAM_MMAP_THRESHOLD="lots") == "False"
