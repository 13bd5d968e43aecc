"""A workflow's ``limits:``: bounds on its input checked before work starts.

.. code-block:: yaml

    limits: {max_input_bytes: 10737418240, max_output_bytes: 1073741824}

An input larger than ``max_input_bytes`` (its size from the event, or the HEAD) fails the
execution with ``InputTooLarge`` before any GET of its body. ``max_output_bytes`` is counted
as the output is written: past it the execution fails with ``OutputTooLarge``, the upload is
aborted and nothing is committed. Unset, an output is bounded by what 10,000 parts of at most
64 MiB hold (492 GiB); set, the writer's parts grow just enough to hold it. ``max_frames``
bounds an animated input (1000 frames unless set): frame ``max_frames + 1`` fails the
execution with ``TooManyFrames`` before it is decoded; it is the decode's ``image.max_frames``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: S3's largest object: the default bound accepts what S3 can hold.
MAX_OBJECT_BYTES = 5 * 1024**4


class LimitsConfig(BaseModel):
    """``limits:`` of one workflow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_input_bytes: int = Field(
        default=MAX_OBJECT_BYTES, ge=0, le=MAX_OBJECT_BYTES, description="largest input object"
    )
    max_frames: int | None = Field(
        default=None, ge=1, le=100_000, description="most frames of an animated input"
    )
    max_output_bytes: int | None = Field(
        default=None, ge=0, le=MAX_OBJECT_BYTES, description="largest output of one branch"
    )


def image_options(options: dict[str, Any], limits: LimitsConfig) -> dict[str, Any]:
    """The workflow's ``image:`` options with the limits the decode enforces added."""
    if limits.max_frames is None:
        return options
    return {**options, "max_frames": limits.max_frames}


#: The limits of a workflow that sets none.
DEFAULT_LIMITS = LimitsConfig()
