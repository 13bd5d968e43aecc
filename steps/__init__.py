"""Steps: the step API, the registry, built-in byte and image steps, stage planning."""

from steps.api import (
    AnyParams,
    FrameKind,
    NoParams,
    ResourceLoader,
    SizeHint,
    StepContext,
    StepDefinition,
    StepFunction,
)
from steps.bytes_steps import BYTE_STEPS, GUNZIP, GZIP, PASSTHROUGH, GzipParams
from steps.configure import (
    ConfiguredStep,
    configure_step,
    format_validation_error,
    plan_steps,
    prepare_step,
    to_stage,
)
from steps.errors import (
    EmptyInput,
    EncodeFailed,
    ImageTooLarge,
    InputError,
    InvalidCompressedData,
    InvalidImage,
    StepConfigError,
    StepError,
    StepNotFound,
    TruncatedImage,
    UnsupportedFormat,
)
from steps.registry import StepRegistry


def default_registry() -> StepRegistry:
    """A registry holding every built-in step (byte steps, and image steps when available)."""
    registry = StepRegistry(BYTE_STEPS)
    try:
        from steps.image import IMAGE_STEPS
    except ImportError:  # pragma: no cover - image steps ship with the package
        return registry
    for definition in IMAGE_STEPS:
        registry.register(definition)
    return registry


__all__ = [
    "BYTE_STEPS",
    "GUNZIP",
    "GZIP",
    "PASSTHROUGH",
    "AnyParams",
    "ConfiguredStep",
    "EmptyInput",
    "EncodeFailed",
    "FrameKind",
    "GzipParams",
    "ImageTooLarge",
    "InputError",
    "InvalidCompressedData",
    "InvalidImage",
    "NoParams",
    "ResourceLoader",
    "SizeHint",
    "StepConfigError",
    "StepContext",
    "StepDefinition",
    "StepError",
    "StepFunction",
    "StepNotFound",
    "StepRegistry",
    "TruncatedImage",
    "UnsupportedFormat",
    "configure_step",
    "default_registry",
    "format_validation_error",
    "plan_steps",
    "prepare_step",
    "to_stage",
]
