"""The step registry: built-in names, import paths, and image steps loaded only when named."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from steps import StepDefinition, StepRegistry, default_registry
from steps.bytes import GZIP, PASSTHROUGH
from steps.errors import StepNotFound

ROOT = Path(__file__).resolve().parents[2]


async def _noop(ctx: object) -> None:
    return None


def test_later_groups_load_on_the_first_miss_only() -> None:
    loaded: list[str] = []

    def group() -> Iterable[StepDefinition]:
        loaded.append("group")
        return (StepDefinition(name="late", function=_noop),)

    registry = StepRegistry((PASSTHROUGH,), later=[group])
    assert registry.resolve("passthrough") is PASSTHROUGH
    assert loaded == []
    assert registry.resolve("late").name == "late"
    assert registry.resolve("late").name == "late"
    assert loaded == ["group"]


def test_an_unknown_name_lists_every_group() -> None:
    registry = default_registry()
    with pytest.raises(StepNotFound) as caught:
        registry.resolve("sharpen")
    assert "compress" in str(caught.value) and "gzip" in str(caught.value)
    assert {"compress", "watermark", "rotate", "gzip", "passthrough"} <= set(registry.names())
    assert registry.resolve("gzip") is GZIP


def test_a_byte_workflow_never_imports_the_image_steps() -> None:
    """Pillow and the image steps' models cost ~8 MB of RSS a gzip copy has no use for."""
    probe = (
        "import sys\n"
        "from trigger_service.workflows.model import parse_workflows\n"
        "spec = {'trigger': {'bucket': 'uploads', 'prefix': 'logs/'},\n"
        "        'steps': ['passthrough', {'gzip': {}}],\n"
        "        'output': {'bucket': 'uploads', 'key': 'out/{name}.gz'}}\n"
        "parse_workflows({'workflows': {'logs': spec}})\n"
        "print(sorted(m for m in ('PIL', 'steps.image') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
