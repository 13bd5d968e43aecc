"""Steps: what a workflow's stages do, and how they are planned into a pipeline.

``api`` is the step API (:class:`StepContext`, :class:`StepDefinition`); ``registry`` maps
names and import paths to steps; ``planning`` validates parameters and inserts decode/encode
stages; ``bytes/`` and ``image/`` hold the built-in steps; ``cpu`` runs CPU work in worker
threads under one limiter; every error is in ``errors``.
"""

from steps.api import FrameKind, ResourceLoader, SizeHint, StepContext, StepDefinition, StepFunction
from steps.errors import InputError, StepConfigError, StepError
from steps.planning import (
    ConfiguredStep,
    configure_step,
    format_validation_error,
    plan_fan_out,
    plan_steps,
    prepare_step,
    share_frame,
    to_stage,
)
from steps.registry import StepRegistry, default_registry

__all__ = [
    "ConfiguredStep",
    "FrameKind",
    "InputError",
    "ResourceLoader",
    "SizeHint",
    "StepConfigError",
    "StepContext",
    "StepDefinition",
    "StepError",
    "StepFunction",
    "StepRegistry",
    "configure_step",
    "default_registry",
    "format_validation_error",
    "plan_fan_out",
    "plan_steps",
    "prepare_step",
    "share_frame",
    "to_stage",
]
