"""The trigger_service package exports every public class and function of its modules."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import trigger_service

#: Modules whose names are re-exported through another module (``events``).
INTERNAL_MODULES = {"events_fields", "events_records", "events_types"}


def test_all_is_unique_and_importable() -> None:
    names = trigger_service.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(trigger_service, name) is not None, name


def test_every_public_class_and_function_is_exported() -> None:
    missing = []
    for info in pkgutil.iter_modules(trigger_service.__path__):
        if info.name in INTERNAL_MODULES:
            continue
        module = importlib.import_module(f"trigger_service.{info.name}")
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", None) == module.__name__
            if name.startswith("_") or not defined_here:
                continue
            if (inspect.isclass(value) or inspect.isfunction(value)) and (
                name not in trigger_service.__all__
            ):
                missing.append(f"{info.name}.{name}")
    assert missing == []


def test_names_of_events_all_are_exported() -> None:
    from trigger_service import events

    assert set(events.__all__) <= set(trigger_service.__all__)


def test_submodules_are_not_shadowed_by_exports() -> None:
    modules = {info.name for info in pkgutil.iter_modules(trigger_service.__path__)}
    assert modules.isdisjoint(trigger_service.__all__)
