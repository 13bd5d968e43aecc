"""Each package exports a curated API: sorted, importable, small, and free of helpers."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import bridge
import steps
import storage_adapter
import trigger_service

PACKAGES = (bridge, steps, storage_adapter, trigger_service)


def _all_packages() -> list[ModuleType]:
    found = []
    for package in PACKAGES:
        found.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if info.ispkg:
                found.append(importlib.import_module(info.name))
    return found


def test_the_walk_reaches_subpackages() -> None:
    names = {package.__name__ for package in _all_packages()}
    assert {"trigger_service.api", "trigger_service.execution", "steps.image.codec"} <= names


@pytest.mark.parametrize("package", _all_packages(), ids=lambda p: p.__name__)
def test_all_is_sorted_unique_and_importable(package: ModuleType) -> None:
    names = list(getattr(package, "__all__", []))
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(package, name) is not None, name


@pytest.mark.parametrize("package", _all_packages(), ids=lambda p: p.__name__)
def test_init_is_small_and_says_what_lives_where(package: ModuleType) -> None:
    assert package.__file__ is not None
    lines = Path(package.__file__).read_text().splitlines()
    assert len(lines) <= 60, f"{package.__name__}/__init__.py has {len(lines)} lines"
    assert package.__doc__ and len(package.__doc__.strip().splitlines()) >= 2


def test_trigger_service_exports_its_api_only() -> None:
    names = set(trigger_service.__all__)
    assert {"handler", "ExecutionEngine", "ExecutionRecord", "TriggerServiceError"} <= names
    assert len(names) <= 20


def test_every_production_module_is_small() -> None:
    oversized = []
    for package in PACKAGES:
        assert package.__file__ is not None
        for path in Path(package.__file__).parent.rglob("*.py"):
            count = len(path.read_text().splitlines())
            if count > 420:
                oversized.append(f"{path}: {count}")
    assert oversized == []


@pytest.mark.parametrize(
    "module", ["trigger_service", "trigger_service.handler", "trigger_service.cli.commands"]
)
def test_the_engine_side_does_not_load_the_http_stack(module: str) -> None:
    """The function handler and ``run``/``process`` stay light: no web server, no metrics."""
    probe = (
        f"import sys, {module}; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'prometheus_client', 'psycopg', 'moto')"
        " if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr
