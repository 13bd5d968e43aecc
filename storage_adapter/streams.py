"""What the reader and writer need from a pipeline stage context (structural types).

The storage adapter depends on no other package of ours: a bridge ``StageContext`` satisfies
these protocols without either side importing the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol


class StageMetricsLike(Protocol):
    """Live counters a stage exposes; the adapter adds timestamps to ``extra``."""

    extra: dict[str, Any]
    last_output_at: float | None


class SourceContext(Protocol):
    """A stage that writes frames downstream."""

    @property
    def metrics(self) -> StageMetricsLike:
        """The stage's live counters."""
        ...

    async def write(self, frame: Any) -> None:
        """Send one frame downstream (waits under backpressure)."""
        ...


class SinkContext(Protocol):
    """A stage that reads frames from upstream."""

    @property
    def metrics(self) -> StageMetricsLike:
        """The stage's live counters."""
        ...

    @property
    def input(self) -> AsyncIterator[Any]:
        """Frames from upstream, in order."""
        ...
