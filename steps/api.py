"""The step API: a step is an async function of its context.

.. code-block:: python

    async def my_step(ctx: StepContext) -> None:
        async for chunk in ctx.input:            # frames from the previous stage, in order
            await ctx.write(transform(chunk))     # streaming return, like ctx.Write()

A :class:`StepDefinition` adds what the runner needs to know about a step: the frame kinds it
consumes and produces (``bytes``; ``picture``, one whole decoded picture; or ``strips``, the
same picture as horizontal :class:`steps.image.PictureStrip` bands, top to bottom — the planner
inserts decode/encode and split/join stages where they differ), its parameter model, an
optional size hint for shrink-on-load, an optional one-time ``setup`` (e.g. loading a
watermark logo once per workflow), and the output format it fixes, if any.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bridge import StageContext, StageMetrics

FrameKind = Literal["bytes", "picture", "strips"]


class NoParams(BaseModel):
    """Parameters of a step that takes none; unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AnyParams(BaseModel):
    """Parameters of a user step given as a plain function: any fields, kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)


class ResourceLoader(Protocol):
    """Reads a resource named in a workflow (``s3://bucket/key`` or a local path)."""

    async def read(self, url: str, *, max_bytes: int) -> bytes:
        """The resource's bytes; raises StepConfigError when missing or over ``max_bytes``."""
        ...


@dataclass
class StepContext:
    """What a running step sees: ``input``, ``write``, ``params``, ``log`` and ``resources``."""

    name: str
    params: Any
    log: logging.LoggerAdapter[logging.Logger]
    resources: Any
    stage: StageContext = field(repr=False)

    @property
    def input(self) -> AsyncIterator[Any]:
        """Frames from the previous stage, in order; iteration ends at end of stream."""
        return self.stage.input

    @property
    def metrics(self) -> StageMetrics:
        """This step's live counters (frames and bytes in and out, blocked time)."""
        return self.stage.metrics

    async def write(self, frame: Any) -> None:
        """Send one frame to the next stage, waiting while it is behind."""
        await self.stage.write(frame)


StepFunction = Callable[[StepContext], Awaitable[None]]
SizeHint = tuple[int, int]


def _no_size_hint(_params: Any) -> SizeHint | None:
    return None


def _no_output_format(_params: Any) -> str | None:
    return None


@dataclass(frozen=True)
class StepDefinition:
    """A step function plus what the runner needs to plan and run it."""

    name: str
    function: StepFunction
    params_model: type[BaseModel] = NoParams
    consumes: FrameKind = "bytes"
    produces: FrameKind = "bytes"
    #: Largest (width, height) this step needs from its input, for shrink-on-load.
    size_hint: Callable[[Any], SizeHint | None] = _no_size_hint
    #: Output image format the step fixes (``"jpeg"``, ``"png"``...), or None to keep.
    output_format: Callable[[Any], str | None] = _no_output_format
    #: Runs once per workflow load; its result is ``ctx.resources`` for every execution.
    setup: Callable[[Any, ResourceLoader], Awaitable[Any]] | None = None
    description: str = ""
