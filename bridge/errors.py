"""Errors of the bridge.

::

    BridgeError
    ├── ChannelClosed        a send on a channel whose receiving side has gone away
    │   └── UpstreamFailed   a receive on a channel whose sending stage failed or was cancelled
    └── StageFailed          a stage raised; carries the stage name and the original error
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base class of the bridge's errors."""


class ChannelClosed(BridgeError):
    """The other end of a channel has been closed; the frame was not delivered."""


class UpstreamFailed(ChannelClosed):
    """The stage sending on a channel stopped without finishing: its input has no end, and a
    stage must not take what arrived for the whole of it."""


class StageFailed(BridgeError):
    """A pipeline stage raised. ``__cause__`` and ``error`` hold the original exception."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"stage {stage!r} failed: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error
