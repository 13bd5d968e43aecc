"""Branches: the outputs of a workflow, each with its own steps, key and content type.

A single-output workflow (``output:``) is one branch named ``output`` with no steps of its
own; a fan-out workflow (``outputs:``) has one branch per entry. Branch keys are checked at
load: unique names, no two branches able to write the same key, none able to trigger the
workflow itself.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

from steps import ConfiguredStep
from trigger_service.errors import TriggerServiceError, WorkflowConfigError
from trigger_service.workflows.keys import FORMAT_EXTENSIONS, KeyTemplate

if TYPE_CHECKING:
    from trigger_service.workflows.model import OutputConfig


#: Name of the one branch of a single-output workflow (``output:``).
SINGLE_OUTPUT = "output"


@dataclass(frozen=True)
class Branch:
    """One output: its own steps (after the shared ones), where it goes, how it is typed."""

    name: str
    steps: tuple[ConfiguredStep, ...]
    output: OutputConfig
    output_key: KeyTemplate
    #: Image format fixed by the last step (shared or own) that fixes one, if any.
    output_format: str | None

    @property
    def content_type(self) -> str:
        """Content-Type of this output: configured, from the fixed format, or generic."""
        if self.output.content_type:
            return self.output.content_type
        fmt = self.output_format
        if fmt:
            guessed, _ = mimetypes.guess_type(f"x.{FORMAT_EXTENSIONS.get(fmt, fmt)}")
            if guessed:
                return guessed
        return "application/octet-stream"

    def render_key(self, input_key: str, execution_id: str) -> str:
        """This branch's output key for ``input_key``; raises ``UnsafeOutputKey``."""
        return self.output_key.render(
            input_key,
            execution_id=execution_id,
            output_format=self.output_format,
            output_name=self.name,
        )

    def resolved_template(self) -> str:
        """The key template with ``{ext}`` and ``{output}`` filled in where they are fixed."""
        template = self.output_key.template.replace("{output}", self.name)
        fmt = self.output_format
        if fmt:
            template = template.replace("{ext}", FORMAT_EXTENSIONS.get(fmt, fmt))
        return template


#: Input keys on which branch key templates are tried against each other for collisions.
_PROBE_KEYS = ("incoming/photo.jpg", "a/b/c.tar.gz", "name-without-extension", "x.PNG")


def check_distinct(branches: list[Branch], where: str) -> None:
    """Branch names are unique; no two branches can write the same key of the same bucket."""
    seen: dict[str, int] = {}
    for index, branch in enumerate(branches):
        if branch.name in seen:
            raise WorkflowConfigError(
                f"{where}.outputs[{index}].name: {branch.name!r} is already the name of "
                f"outputs[{seen[branch.name]}]; branch names must be unique"
            )
        seen[branch.name] = index
    for index, branch in enumerate(branches):
        for other_index, other in enumerate(branches[:index]):
            if branch.output.bucket != other.output.bucket:
                continue
            same = branch.resolved_template() == other.resolved_template() or any(
                _probe(branch, key) == _probe(other, key) for key in _PROBE_KEYS
            )
            if same:
                raise WorkflowConfigError(
                    f"{where}.outputs[{index}].key: {branch.output_key.template!r} can write "
                    f"the same key in bucket {branch.output.bucket!r} as outputs[{other_index}] "
                    f"({other.name!r}); make the keys differ, e.g. with {{output}}"
                )


def _probe(branch: Branch, key: str) -> str | None:
    try:
        return branch.render_key(key, "probe")
    except TriggerServiceError:
        return None
