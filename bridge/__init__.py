"""In-process stream bridge: bounded channels, frames and the pipeline runner."""

from bridge.channel import Channel, ChannelStatistics
from bridge.errors import BridgeError, ChannelClosed, StageFailed
from bridge.frames import Frame, SizedFrame, frame_size
from bridge.metrics import StageMetrics, StageStatus
from bridge.pipeline import (
    DEFAULT_CAPACITY,
    KNOCK_ON_ERRORS,
    PipelineResult,
    Sink,
    Stage,
    StageContext,
    StageFunction,
    StageInput,
    run_pipeline,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "KNOCK_ON_ERRORS",
    "BridgeError",
    "Channel",
    "ChannelClosed",
    "ChannelStatistics",
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
    "run_pipeline",
]
