"""Step lookup: built-in steps by name, user steps by import path ``module:function``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable

from steps.api import AnyParams, StepDefinition
from steps.errors import StepNotFound


class StepRegistry:
    """Step definitions by name, with import-path resolution for user steps."""

    def __init__(self, definitions: Iterable[StepDefinition] = ()) -> None:
        self._definitions: dict[str, StepDefinition] = {}
        for definition in definitions:
            self.register(definition)

    def register(self, definition: StepDefinition) -> None:
        """Add a step; a name may be registered once."""
        if definition.name in self._definitions:
            raise ValueError(f"step {definition.name!r} is already registered")
        self._definitions[definition.name] = definition

    def names(self) -> list[str]:
        """Registered step names, sorted."""
        return sorted(self._definitions)

    def resolve(self, reference: str) -> StepDefinition:
        """The step named ``reference``, or imported from ``module:function``.

        Import paths come only from workflow files, never from events or requests.
        """
        if ":" not in reference:
            try:
                return self._definitions[reference]
            except KeyError:
                known = ", ".join(self.names())
                raise StepNotFound(
                    f"unknown step {reference!r}; built-in steps are: {known}; "
                    "a user step is given as 'package.module:function'"
                ) from None
        return _import_step(reference)


def _import_step(reference: str) -> StepDefinition:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute.isidentifier():
        raise StepNotFound(f"step path {reference!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StepNotFound(
            f"cannot import module {module_name!r} for step {reference!r}: {exc}"
        ) from exc
    target = getattr(module, attribute, None)
    if isinstance(target, StepDefinition):
        return target
    if target is not None and inspect.iscoroutinefunction(target):
        return StepDefinition(name=reference, function=target, params_model=AnyParams)
    raise StepNotFound(
        f"{reference!r} is not a step: expected 'async def step(ctx)' or a StepDefinition"
    )


def default_registry() -> StepRegistry:
    """A registry holding every built-in step: byte steps and image steps."""
    from steps.bytes import BYTE_STEPS
    from steps.image import IMAGE_STEPS

    return StepRegistry((*BYTE_STEPS, *IMAGE_STEPS))
