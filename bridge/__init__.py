"""In-process stream bridge: steps exchange frames over bounded channels.

``channel`` is the bounded channel (backpressure, close, abort, statistics); ``frames`` what
travels on it; ``pipeline`` runs stages concurrently and alone decides to commit; ``tee`` fans
one stream out to several branches, all committed or none; ``metrics`` records each stage's
traffic; every error is in ``errors``.
"""

from bridge.channel import Channel, ChannelStatistics
from bridge.errors import BridgeError, ChannelClosed, StageFailed
from bridge.frames import Frame, SizedFrame, frame_size
from bridge.metrics import StageMetrics, StageStatus
from bridge.pipeline import (
    DEFAULT_CAPACITY,
    DEFAULT_COMMIT_TIMEOUT,
    KNOCK_ON_ERRORS,
    PipelineResult,
    Sink,
    Stage,
    StageContext,
    StageFunction,
    StageInput,
    root_cause,
    run_pipeline,
)
from bridge.tee import Branch, FanOut

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_COMMIT_TIMEOUT",
    "KNOCK_ON_ERRORS",
    "Branch",
    "BridgeError",
    "Channel",
    "ChannelClosed",
    "ChannelStatistics",
    "FanOut",
    "Frame",
    "PipelineResult",
    "Sink",
    "SizedFrame",
    "Stage",
    "StageContext",
    "StageFailed",
    "StageFunction",
    "StageInput",
    "StageMetrics",
    "StageStatus",
    "frame_size",
    "root_cause",
    "run_pipeline",
]
