"""The workflow file: YAML validated into typed workflows, with errors naming the bad field.

.. code-block:: yaml

    workflows:
      photos:
        trigger: {bucket: uploads, events: ["ObjectCreated:*"], prefix: "incoming/",
                  suffix: [".jpg", ".png"]}
        steps:
          - compress: {max_width: 2048, format: jpeg, quality: 80}
          - watermark: {text: "© Example", position: bottom-right, opacity: 0.5}
        output: {bucket: uploads, key: "processed/{stem}.{ext}"}
        retry: {attempts: 3, backoff_seconds: 1}
        timeout_seconds: 300
"""

from __future__ import annotations

import fnmatch
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from steps import (
    ConfiguredStep,
    ResourceLoader,
    StepConfigError,
    StepRegistry,
    configure_step,
    default_registry,
    format_validation_error,
    plan_steps,
    prepare_step,
)
from trigger_service.errors import UnknownWorkflow, WorkflowConfigError
from trigger_service.workflows.keys import FORMAT_EXTENSIONS, KeyTemplate
from trigger_service.workflows.loops import output_could_trigger_itself

MAX_WORKFLOW_FILE_BYTES = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TriggerConfig(_Strict):
    """Which bucket events start the workflow."""

    bucket: str = Field(min_length=3, max_length=255)
    events: tuple[str, ...] = ("ObjectCreated:*",)
    prefix: str = ""
    suffix: tuple[str, ...] = ()

    @field_validator("suffix", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("events")
    @classmethod
    def _event_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(name.removeprefix("s3:") for name in value)
        for name in names:
            if not name or ":" not in name:
                raise ValueError(f"{name!r} is not an event name such as 'ObjectCreated:*'")
        return names

    def accepts_event(self, event_name: str) -> bool:
        """Whether ``event_name`` (e.g. ``ObjectCreated:Put``) matches ``events``."""
        name = event_name.removeprefix("s3:")
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.events)

    def accepts_key(self, key: str) -> bool:
        """Whether ``key`` matches the prefix and (case-insensitively) a suffix."""
        if not key.startswith(self.prefix):
            return False
        return not self.suffix or key.lower().endswith(tuple(s.lower() for s in self.suffix))


class OutputConfig(_Strict):
    """Where the output goes."""

    bucket: str = Field(min_length=3, max_length=255)
    key: str = Field(min_length=1)
    content_type: str | None = None


class RetryConfig(_Strict):
    """Retries of transient failures (bad input is never retried)."""

    attempts: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0, le=300)


class WorkflowModel(_Strict):
    """One workflow as written in the file."""

    trigger: TriggerConfig
    steps: list[str | dict[str, dict[str, Any] | None]] = Field(min_length=1)
    output: OutputConfig
    retry: RetryConfig = RetryConfig()
    timeout_seconds: float = Field(default=300, gt=0, le=86_400)
    image: dict[str, Any] = Field(default_factory=dict)


class WorkflowFileModel(_Strict):
    """The whole file."""

    workflows: dict[str, WorkflowModel] = Field(min_length=1)
    #: Service settings (``bucketstream serve``), validated by ``trigger_service.cli.config``.
    service: dict[str, Any] | None = None


@dataclass(frozen=True)
class Workflow:
    """A loaded workflow: validated settings and configured (not yet planned) steps."""

    name: str
    trigger: TriggerConfig
    steps: tuple[ConfiguredStep, ...]
    output: OutputConfig
    output_key: KeyTemplate
    retry: RetryConfig
    timeout_seconds: float
    image_options: Mapping[str, Any]

    @property
    def output_format(self) -> str | None:
        """The output image format fixed by the last step that fixes one, if any."""
        fixed = None
        for step in self.steps:
            fixed = step.definition.output_format(step.params) or fixed
        return fixed

    @property
    def content_type(self) -> str:
        """Content-Type of outputs: configured, from the fixed format, or generic."""
        if self.output.content_type:
            return self.output.content_type
        fmt = self.output_format
        if fmt:
            guessed, _ = mimetypes.guess_type(f"x.{FORMAT_EXTENSIONS.get(fmt, fmt)}")
            if guessed:
                return guessed
        return "application/octet-stream"

    def planned_steps(self) -> list[ConfiguredStep]:
        """The steps with decode/encode stages inserted where frame kinds change."""
        return plan_steps(self.steps, image_options=self.image_options)


@dataclass(frozen=True)
class Workflows:
    """Every workflow of a file, by name."""

    by_name: Mapping[str, Workflow]

    def get(self, name: str) -> Workflow:
        """The workflow called ``name``; raises :class:`UnknownWorkflow`."""
        try:
            return self.by_name[name]
        except KeyError:
            known = ", ".join(sorted(self.by_name)) or "none"
            raise UnknownWorkflow(f"no workflow named {name!r}; loaded: {known}") from None

    def __iter__(self) -> Any:
        return iter(self.by_name.values())

    def buckets(self) -> set[str]:
        """Every bucket a workflow reads or writes."""
        return {b for w in self for b in (w.trigger.bucket, w.output.bucket)}


def parse_workflows(
    data: Any, *, registry: StepRegistry | None = None, source: str = "workflow file"
) -> Workflows:
    """Validate parsed YAML/JSON into workflows; errors name the bad field."""
    registry = registry or default_registry()
    try:
        model = WorkflowFileModel.model_validate(data)
    except ValidationError as exc:
        raise WorkflowConfigError(f"{source}: {format_validation_error('', exc)}") from None
    workflows: dict[str, Workflow] = {}
    for name, spec in model.workflows.items():
        workflows[name] = _build(name, spec, registry, source)
    return Workflows(workflows)


def load_workflows(path: str | Path, *, registry: StepRegistry | None = None) -> Workflows:
    """Read and validate a workflow YAML file (steps not yet prepared; see ``prepare``)."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise WorkflowConfigError(f"cannot read workflow file {file}: {exc.strerror}") from None
    if len(raw) > MAX_WORKFLOW_FILE_BYTES:
        raise WorkflowConfigError(f"workflow file {file} is larger than 1 MiB")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise WorkflowConfigError(f"{file} is not valid YAML: {exc}") from None
    return parse_workflows(data, registry=registry, source=str(file))


async def prepare_workflows(workflows: Workflows, loader: ResourceLoader) -> Workflows:
    """Run every step's one-time setup (e.g. load watermark logos) once per workflow."""
    prepared: dict[str, Workflow] = {}
    for workflow in workflows:
        try:
            steps = tuple([await prepare_step(step, loader) for step in workflow.steps])
        except StepConfigError as exc:
            raise WorkflowConfigError(f"workflows.{workflow.name}.steps: {exc.message}") from None
        prepared[workflow.name] = Workflow(**{**workflow.__dict__, "steps": steps})
    return Workflows(prepared)


def _build(name: str, spec: WorkflowModel, registry: StepRegistry, source: str) -> Workflow:
    where = f"{source}: workflows.{name}"
    steps = []
    for index, entry in enumerate(spec.steps):
        reference, params = _step_entry(entry, f"{where}.steps[{index}]")
        try:
            definition = registry.resolve(reference)
            steps.append(configure_step(definition, params, label=reference))
        except StepConfigError as exc:
            raise WorkflowConfigError(f"{where}.steps[{index}]: {exc.message}") from None
    try:
        template = KeyTemplate(spec.output.key)
    except WorkflowConfigError as exc:
        raise WorkflowConfigError(f"{where}.{exc.message}") from None
    workflow = Workflow(
        name=name,
        trigger=spec.trigger,
        steps=tuple(steps),
        output=spec.output,
        output_key=template,
        retry=spec.retry,
        timeout_seconds=spec.timeout_seconds,
        image_options=dict(spec.image),
    )
    try:
        workflow.planned_steps()
    except StepConfigError as exc:
        raise WorkflowConfigError(f"{where}.image: {exc.message}") from None
    if output_could_trigger_itself(workflow):
        raise WorkflowConfigError(
            f"{where}.output: outputs in s3://{spec.output.bucket}/"
            f"{template.literal_prefix} could trigger this workflow again; give output.key a "
            f"prefix outside trigger.prefix {spec.trigger.prefix!r} (e.g. 'processed/...') "
            "or set trigger.prefix so that it excludes the outputs"
        )
    return workflow


def _step_entry(entry: str | dict[str, dict[str, Any] | None], where: str) -> tuple[str, Any]:
    if isinstance(entry, str):
        return entry, {}
    if len(entry) != 1:
        raise WorkflowConfigError(
            f"{where}: a step is written as '- name: {{params}}' with exactly one name, "
            f"got {sorted(entry)}"
        )
    ((reference, params),) = entry.items()
    return reference, params or {}
