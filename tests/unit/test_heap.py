"""``frozen_heap``: start-up objects out of the garbage collector for a job, and back after."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import anyio
import pytest

from trigger_service.execution import process as process_module
from trigger_service.execution.heap import frozen_heap


def test_objects_are_frozen_inside_and_unfrozen_after() -> None:
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_unfrozen_even_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), frozen_heap(collect=False):
        raise RuntimeError("job failed")
    assert gc.get_freeze_count() == 0


def test_a_one_shot_job_skips_the_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_collect(*_args: Any) -> int:
        raise AssertionError("collected")

    monkeypatch.setattr(gc, "collect", no_collect)
    with frozen_heap(collect=False):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_disabled_freezes_nothing() -> None:
    with frozen_heap(False):
        assert gc.get_freeze_count() == 0


def test_process_file_runs_the_job_with_the_heap_frozen(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[int] = []

    async def job(*_args: Any) -> dict[str, object]:
        seen.append(gc.get_freeze_count())
        return {}

    monkeypatch.setattr(process_module, "_process", job)
    workflow: Any = object()
    anyio.run(process_module.process_file, workflow, tmp_path / "in", tmp_path / "out")
    assert seen and seen[0] > 0
    assert gc.get_freeze_count() == 0
