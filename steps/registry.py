"""Step lookup: built-in steps by name, user steps by import path ``module:function``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable

from steps.api import AnyParams, StepDefinition
from steps.errors import StepNotFound

#: A group of steps whose modules are imported only when one of them is looked up.
StepGroup = Callable[[], Iterable[StepDefinition]]


class StepRegistry:
    """Step definitions by name, with import-path resolution for user steps.

    ``later`` groups are loaded (in order) the first time a name is not found among the
    steps loaded so far, so a workflow that names none of their steps never imports them.
    """

    def __init__(
        self, definitions: Iterable[StepDefinition] = (), *, later: Iterable[StepGroup] = ()
    ) -> None:
        self._definitions: dict[str, StepDefinition] = {}
        self._later = list(later)
        for definition in definitions:
            self.register(definition)

    def register(self, definition: StepDefinition) -> None:
        """Add a step; a name may be registered once."""
        if definition.name in self._definitions:
            raise ValueError(f"step {definition.name!r} is already registered")
        self._definitions[definition.name] = definition

    def names(self) -> list[str]:
        """Registered step names (every group loaded), sorted."""
        while self._load_next_group():
            pass
        return sorted(self._definitions)

    def _load_next_group(self) -> bool:
        if not self._later:
            return False
        for definition in self._later.pop(0)():
            self.register(definition)
        return True

    def resolve(self, reference: str) -> StepDefinition:
        """The step named ``reference``, or imported from ``module:function``.

        Import paths come only from workflow files, never from events or requests.
        """
        if ":" not in reference:
            while reference not in self._definitions and self._load_next_group():
                pass
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
    """A registry of every built-in step: byte steps, then image steps on first use.

    Image steps bring Pillow and their parameter models (~8 MB of RSS): a workflow of byte
    steps never loads them.
    """
    from steps.bytes import BYTE_STEPS

    return StepRegistry(BYTE_STEPS, later=[_image_steps])


def _image_steps() -> Iterable[StepDefinition]:
    from steps.image import IMAGE_STEPS

    return IMAGE_STEPS
