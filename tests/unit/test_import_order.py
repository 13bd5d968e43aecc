"""Every entry module imports first, in a fresh interpreter: no import cycle depends on order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ENTRY_MODULES = (
    "trigger_service.service",
    "trigger_service.api",
    "trigger_service.api.access",
    "trigger_service.handler",
    "trigger_service.cli.commands",
    "trigger_service.cli.serve",
    "trigger_service.execution.engine",
    "trigger_service.store.factory",
)


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
