"""From a workflow's step list to pipeline stages: validate, prepare, plan, wrap.

Planning inserts a *decode* stage where bytes meet a picture step and an *encode* stage where
a picture meets a byte consumer, so a chain of picture steps decodes once and encodes once.
The decode stage gets the size hint of the first picture step after it, for shrink-on-load.

Image steps take a whole picture (``picture``) or a picture in horizontal strips (``strips``).
Between two strip steps each band goes on as soon as it is done; where a strip step meets a
whole-picture step the planner inserts *join* (strips → picture) or *split* (picture → strips).
Decode emits strips itself when the next step takes strips (one strip holding the whole picture
when that step shrinks it, as compress does: it reads windows of rows and sends on small
strips), and the strip encoder writes baseline JPEG as the strips come (other formats are joined
and encoded at the end).

A fan-out (``plan_fan_out``) plans the shared steps and each branch's steps around one tee:
when every branch starts with an image step, the decode moves before the tee (one decode for
all branches, a whole picture on the tee, split again in branches that take strips) and its size
hint is the largest the branches ask for (none if one asks for the full size); each branch ends
with its own encode.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError

from bridge import Stage, StageContext
from steps.api import FrameKind, ResourceLoader, SizeHint, StepContext, StepDefinition
from steps.errors import StepConfigError


@dataclass(frozen=True)
class ConfiguredStep:
    """A step definition with validated parameters and its prepared resources."""

    label: str
    definition: StepDefinition
    params: BaseModel
    resources: Any = None

    @property
    def consumes(self) -> FrameKind:
        """Frame kind the step reads."""
        return self.definition.consumes

    @property
    def produces(self) -> FrameKind:
        """Frame kind the step writes."""
        return self.definition.produces


def format_validation_error(prefix: str, error: ValidationError) -> str:
    """One line per problem, each naming the field path under ``prefix``."""
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
        problems.append(f"{path}: {item['msg']}")
    return "; ".join(problems)


def configure_step(
    definition: StepDefinition, raw_params: Mapping[str, Any] | None, *, label: str | None = None
) -> ConfiguredStep:
    """Validate ``raw_params`` against the step's model; errors name the bad field."""
    name = label or definition.name
    try:
        params = definition.params_model.model_validate(dict(raw_params or {}))
    except ValidationError as exc:
        raise StepConfigError(format_validation_error(name, exc)) from None
    return ConfiguredStep(label=name, definition=definition, params=params)


async def prepare_step(step: ConfiguredStep, loader: ResourceLoader) -> ConfiguredStep:
    """Run the step's one-time ``setup`` (e.g. load a logo) and keep its result."""
    if step.definition.setup is None:
        return step
    resources = await step.definition.setup(step.params, loader)
    return replace(step, resources=resources)


def plan_steps(
    steps: Sequence[ConfiguredStep], *, image_options: Mapping[str, Any] | None = None
) -> list[ConfiguredStep]:
    """Insert decode/encode and split/join stages so frame kinds match from bytes to bytes."""
    planned, _ = _plan(steps, "bytes", "bytes", image_options)
    return planned


def plan_fan_out(
    shared: Sequence[ConfiguredStep],
    branches: Sequence[Sequence[ConfiguredStep]],
    *,
    image_options: Mapping[str, Any] | None = None,
) -> tuple[list[ConfiguredStep], list[list[ConfiguredStep]]]:
    """Plan ``shared`` steps before a tee and each branch's steps after it.

    Returns the shared stages (ending in bytes or pictures, as the branches need them) and
    each branch's stages (ending in bytes).
    """
    shared_end = shared[-1].produces if shared else "bytes"
    if (
        shared_end == "bytes"
        and branches
        and all(branch and branch[0].consumes != "bytes" for branch in branches)
    ):
        shared_end = "picture"
    hint = _largest_hint([_first_hint(branch) for branch in branches])
    planned_shared, tee_kind = _plan(shared, "bytes", shared_end, image_options, hint)
    planned_branches = [_plan(b, tee_kind, "bytes", image_options)[0] for b in branches]
    return planned_shared, planned_branches


def _plan(
    steps: Sequence[ConfiguredStep],
    start: FrameKind,
    end: FrameKind,
    image_options: Mapping[str, Any] | None,
    tail_hint: SizeHint | None = None,
) -> tuple[list[ConfiguredStep], FrameKind]:
    planned: list[ConfiguredStep] = []
    current = start
    for index, step in enumerate(steps):
        if current != step.consumes:
            hint = _first_hint(steps[index:])
            planned += _converters(current, step.consumes, hint, image_options, _shrinks(step))
        planned.append(step)
        current = step.produces
    if current != end:
        hint = tail_hint if current == "bytes" else None
        planned += _converters(current, end, hint, image_options, False)
    return planned, end


def _first_hint(following: Sequence[ConfiguredStep]) -> SizeHint | None:
    """The size hint of the first image step in ``following`` (None: full size)."""
    return next(
        (s.definition.size_hint(s.params) for s in following if s.consumes != "bytes"), None
    )


def _shrinks(step: ConfiguredStep) -> bool:
    """True for a step that shrinks pictures to a size hint (it reads windows of rows)."""
    return step.definition.size_hint(step.params) is not None


def _largest_hint(hints: Sequence[SizeHint | None]) -> SizeHint | None:
    """A size covering every hint; None when one of them wants the full size."""
    if not hints or any(hint is None for hint in hints):
        return None
    present = [hint for hint in hints if hint is not None]
    return (max(w for w, _ in present), max(h for _, h in present))


def _converters(
    current: FrameKind,
    wanted: FrameKind,
    hint: SizeHint | None,
    image_options: Mapping[str, Any] | None,
    next_shrinks: bool,
) -> list[ConfiguredStep]:
    from steps.image import DECODE, ENCODE, JOIN, SPLIT, STRIP_ENCODE

    if current == "bytes":
        options = dict(image_options or {})
        if hint is not None:
            options.setdefault("target_size", hint)
        options["strips"] = wanted == "strips"
        # A step that shrinks the picture reads windows of source rows: it gets the decoded
        # picture as one strip (bands would copy every row) and sends on small strips itself.
        options["one_strip"] = wanted == "strips" and next_shrinks
        return [configure_step(DECODE, options, label="decode")]
    if wanted == "bytes":
        encoder = STRIP_ENCODE if current == "strips" else ENCODE
        return [configure_step(encoder, {}, label="encode")]
    if wanted == "strips":
        return [configure_step(SPLIT, {"one_strip": next_shrinks})]
    return [configure_step(JOIN, {})]


def share_frame(frame: Any) -> Any:
    """``frame`` as several branches of a fan-out receive it: a picture is marked shared.

    Steps that draw into a shared picture's frames copy them first; bytes are immutable.
    """
    if isinstance(frame, bytes):  # a byte workflow never loads the image steps
        return frame
    from steps.image import Picture

    if isinstance(frame, Picture) and not frame.shared:
        return replace(frame, shared=True)
    return frame


def to_stage(step: ConfiguredStep, log: logging.LoggerAdapter[logging.Logger]) -> Stage:
    """Wrap a configured step as a bridge stage bound to an execution's logger."""
    step_log = logging.LoggerAdapter(log.logger, {**(log.extra or {}), "step": step.label})

    async def run(stage: StageContext) -> None:
        context = StepContext(
            name=step.label,
            params=step.params,
            log=step_log,
            resources=step.resources,
            stage=stage,
        )
        await step.definition.function(context)

    return Stage(name=step.label, run=run)
