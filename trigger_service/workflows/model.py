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

A fan-out workflow has ``outputs`` instead of ``output``: branches, each with its own steps
(run after the shared ``steps``) and its own key, e.g. ``{name: thumb, steps: [compress:
{max_width: 320}], key: "thumbs/{stem}.{ext}"}``; the bucket defaults to the trigger's.
Every workflow is held as branches: a single-output workflow is one branch named ``output``
with no steps of its own.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    plan_fan_out,
    plan_steps,
    prepare_step,
)
from trigger_service.errors import UnknownOutput, UnknownWorkflow, WorkflowConfigError
from trigger_service.workflows.branches import SINGLE_OUTPUT, Branch, check_distinct
from trigger_service.workflows.keys import KeyTemplate
from trigger_service.workflows.limits import DEFAULT_LIMITS, LimitsConfig, image_options
from trigger_service.workflows.loops import branch_could_trigger
from trigger_service.workflows.scope import ApiAccess

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


StepEntries = list[str | dict[str, dict[str, Any] | None]]


class BranchModel(_Strict):
    """One output of a fan-out workflow, as written in the file."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
    steps: StepEntries = Field(default_factory=list)
    key: str = Field(min_length=1)
    bucket: str | None = Field(default=None, min_length=3, max_length=255)
    content_type: str | None = None


class RetryConfig(_Strict):
    """Retries of transient failures (bad input is never retried)."""

    attempts: int = Field(default=3, ge=1, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0, le=300)


class WorkflowModel(_Strict):
    """One workflow as written in the file."""

    trigger: TriggerConfig
    steps: StepEntries = Field(default_factory=list)
    output: OutputConfig | None = None
    outputs: list[BranchModel] | None = Field(default=None, min_length=1, max_length=16)
    retry: RetryConfig = RetryConfig()
    timeout_seconds: float = Field(default=300, gt=0, le=86_400)
    image: dict[str, Any] = Field(default_factory=dict)
    limits: LimitsConfig = LimitsConfig()
    #: What API calls may read beyond the trigger (:mod:`~trigger_service.workflows.scope`).
    api: ApiAccess = ApiAccess()


class WorkflowFileModel(_Strict):
    """The whole file."""

    workflows: dict[str, WorkflowModel] = Field(min_length=1)
    #: Service settings (``bucketstream serve``), validated by ``trigger_service.cli.config``.
    service: dict[str, Any] | None = None


@dataclass(frozen=True)
class Workflow:
    """A loaded workflow: validated settings, configured (not yet planned) steps, branches.

    ``steps`` are shared by every branch; a single-output workflow (``fan_out`` False) has one
    branch named ``output`` with no steps of its own.
    """

    name: str
    trigger: TriggerConfig
    steps: tuple[ConfiguredStep, ...]
    branches: tuple[Branch, ...]
    retry: RetryConfig
    timeout_seconds: float
    image_options: Mapping[str, Any]
    #: True when written with ``outputs``: the record then lists ``outputs``.
    fan_out: bool = False
    limits: LimitsConfig = DEFAULT_LIMITS
    #: What API calls may read beyond the trigger's keys.
    api: ApiAccess = field(default_factory=ApiAccess)

    @property
    def output(self) -> OutputConfig:
        """The first branch's output (the only one of a single-output workflow)."""
        return self.branches[0].output

    @property
    def output_key(self) -> KeyTemplate:
        """The first branch's key template (the only one of a single-output workflow)."""
        return self.branches[0].output_key

    @property
    def output_format(self) -> str | None:
        """The first branch's fixed output format, if any."""
        return self.branches[0].output_format

    @property
    def content_type(self) -> str:
        """The first branch's Content-Type (the only one of a single-output workflow)."""
        return self.branches[0].content_type

    def branch(self, name: str | None = None) -> Branch:
        """The output called ``name`` (default: the first); raises :class:`UnknownOutput`."""
        if name is None:
            return self.branches[0]
        for branch in self.branches:
            if branch.name == name:
                return branch
        known = ", ".join(repr(b.name) for b in self.branches)
        raise UnknownOutput(f"workflow {self.name!r} has no output named {name!r}; it has {known}")

    def planned_steps(self) -> list[ConfiguredStep]:
        """The steps with decode/encode stages inserted where frame kinds change.

        For a fan-out workflow this is the shared part only; see ``planned_fan_out``.
        """
        if self.fan_out:
            return self.planned_fan_out()[0]
        return plan_steps(self.steps, image_options=self.image_options)

    def planned_fan_out(self) -> tuple[list[ConfiguredStep], list[list[ConfiguredStep]]]:
        """The shared stages (before the tee) and each branch's stages, in branch order."""
        return plan_fan_out(
            self.steps, [b.steps for b in self.branches], image_options=self.image_options
        )


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
        return {
            bucket
            for w in self
            for bucket in (w.trigger.bucket, *(b.output.bucket for b in w.branches))
        }


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
    data = read_yaml_file(file, "workflow file")
    return parse_workflows(data, registry=registry, source=str(file))


def read_yaml_file(file: Path, kind: str) -> Any:
    """The YAML document in ``file`` (a workflow or settings file), at most 1 MiB.

    Raises :class:`WorkflowConfigError` naming the file when it cannot be read, is too large
    or is not YAML.
    """
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise WorkflowConfigError(f"cannot read {kind} {file}: {exc.strerror}") from None
    if len(raw) > MAX_WORKFLOW_FILE_BYTES:
        raise WorkflowConfigError(f"{kind} {file} is larger than 1 MiB")
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise WorkflowConfigError(f"{file} is not valid YAML: {exc}") from None


async def prepare_workflows(workflows: Workflows, loader: ResourceLoader) -> Workflows:
    """Run every step's one-time setup (e.g. load watermark logos) once per workflow."""
    prepared: dict[str, Workflow] = {}
    for workflow in workflows:
        try:
            steps = tuple([await prepare_step(step, loader) for step in workflow.steps])
            branches = []
            for branch in workflow.branches:
                own = tuple([await prepare_step(step, loader) for step in branch.steps])
                branches.append(replace(branch, steps=own))
        except StepConfigError as exc:
            raise WorkflowConfigError(f"workflows.{workflow.name}.steps: {exc.message}") from None
        prepared[workflow.name] = replace(workflow, steps=steps, branches=tuple(branches))
    return Workflows(prepared)


def _build(name: str, spec: WorkflowModel, registry: StepRegistry, source: str) -> Workflow:
    where = f"{source}: workflows.{name}"
    if (spec.output is None) == (spec.outputs is None):
        raise WorkflowConfigError(
            f"{where}: give either 'output' (one output) or 'outputs' (a list of branches)"
            + (", not both" if spec.output is not None else "")
        )
    steps = _configure(spec.steps, f"{where}.steps", registry)
    if spec.outputs is None:
        if not steps:
            raise WorkflowConfigError(
                f"{where}.steps: List should have at least 1 item (a workflow with one output "
                "needs a step; 'outputs' branches may share none)"
            )
        assert spec.output is not None
        branches = [_single_branch(spec.output, steps, where)]
    else:
        branches = [
            _branch(entry, spec, steps, registry, f"{where}.outputs[{index}]")
            for index, entry in enumerate(spec.outputs)
        ]
        check_distinct(branches, where)
    workflow = Workflow(
        name=name,
        trigger=spec.trigger,
        steps=tuple(steps),
        branches=tuple(branches),
        retry=spec.retry,
        timeout_seconds=spec.timeout_seconds,
        image_options=image_options(dict(spec.image), spec.limits),
        fan_out=spec.outputs is not None,
        limits=spec.limits,
        api=spec.api,
    )
    try:
        workflow.planned_steps()
        if workflow.fan_out:
            workflow.planned_fan_out()
    except StepConfigError as exc:
        raise WorkflowConfigError(f"{where}.image: {exc.message}") from None
    for index, branch in enumerate(workflow.branches):
        if branch_could_trigger(workflow.trigger, branch):
            field = f"outputs[{index}].key" if workflow.fan_out else "output"
            raise WorkflowConfigError(
                f"{where}.{field}: outputs in s3://{branch.output.bucket}/"
                f"{branch.output_key.literal_prefix} could trigger this workflow again; give "
                f"the key a prefix outside trigger.prefix {spec.trigger.prefix!r} (e.g. "
                "'processed/...') or set trigger.prefix so that it excludes the outputs"
            )
    return workflow


def _configure(entries: StepEntries, where: str, registry: StepRegistry) -> list[ConfiguredStep]:
    steps = []
    for index, entry in enumerate(entries):
        reference, params = _step_entry(entry, f"{where}[{index}]")
        try:
            definition = registry.resolve(reference)
            steps.append(configure_step(definition, params, label=reference))
        except StepConfigError as exc:
            raise WorkflowConfigError(f"{where}[{index}]: {exc.message}") from None
    return steps


def _template(key: str, where: str) -> KeyTemplate:
    try:
        return KeyTemplate(key)
    except WorkflowConfigError as exc:
        raise WorkflowConfigError(f"{where}.{exc.message}") from None


def _fixed_format(steps: list[ConfiguredStep]) -> str | None:
    fixed = None
    for step in steps:
        fixed = step.definition.output_format(step.params) or fixed
    return fixed


def _single_branch(output: OutputConfig, steps: list[ConfiguredStep], where: str) -> Branch:
    template = _template(output.key, where)
    if "output" in template.variables:
        raise WorkflowConfigError(
            f"{where}.output.key: {{output}} is the branch name of an 'outputs' workflow; "
            "this workflow has one output"
        )
    return Branch(SINGLE_OUTPUT, (), output, template, _fixed_format(steps))


def _branch(
    entry: BranchModel,
    spec: WorkflowModel,
    shared: list[ConfiguredStep],
    registry: StepRegistry,
    where: str,
) -> Branch:
    own = _configure(entry.steps, f"{where}.steps", registry)
    output = OutputConfig(
        bucket=entry.bucket or spec.trigger.bucket, key=entry.key, content_type=entry.content_type
    )
    template = _template(entry.key, f"{where}.key").template
    key = KeyTemplate(template)
    return Branch(entry.name, tuple(own), output, key, _fixed_format([*shared, *own]))


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
