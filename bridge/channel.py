"""Bounded channels between pipeline stages.

A :class:`Channel` wraps an anyio memory object stream of ``capacity`` frames and may also
enforce a byte budget. ``send`` waits while the channel is full (backpressure); closing the
sending side ends the receiver's iteration (end of stream — which never means success);
closing the receiving side makes further sends raise :class:`~bridge.errors.ChannelClosed`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from bridge.errors import ChannelClosed, UpstreamFailed
from bridge.frames import frame_size

T = TypeVar("T")


@dataclass(frozen=True)
class ChannelStatistics:
    """A snapshot of a channel's use; ``max_*`` are high-water marks since creation."""

    capacity: int
    byte_budget: int | None
    frames_buffered: int
    bytes_pending: int
    max_frames_buffered: int
    max_bytes_pending: int
    frames_sent: int
    bytes_sent: int
    send_blocked_seconds: float
    receive_blocked_seconds: float


class Channel(Generic[T]):
    """A bounded, closable, single-producer single-consumer channel of frames.

    ``capacity`` bounds the frames buffered; ``byte_budget`` (optional) bounds the bytes held by
    frames sent and not yet received — a frame larger than the budget still passes alone, so a
    budget can slow a channel down but never deadlock it.
    """

    def __init__(self, capacity: int, *, byte_budget: int | None = None, name: str = "") -> None:
        if capacity < 1:
            raise ValueError("channel capacity must be at least 1 frame")
        if byte_budget is not None and byte_budget < 1:
            raise ValueError("channel byte budget must be positive")
        self.name = name
        self.capacity = capacity
        self.byte_budget = byte_budget
        send, receive = anyio.create_memory_object_stream[T](capacity)
        self._send: MemoryObjectSendStream[T] = send
        self._receive: MemoryObjectReceiveStream[T] = receive
        self._bytes_pending = 0
        self._receiver_closed = False
        self._sender_failed = False
        self._budget_released = anyio.Event()
        self._max_frames = 0
        self._max_bytes = 0
        self._frames_sent = 0
        self._bytes_sent = 0
        self._send_blocked = 0.0
        self._receive_blocked = 0.0

    async def send(self, frame: T) -> None:
        """Send one frame, waiting while the channel is full or over its byte budget."""
        size = frame_size(frame)
        began = time.perf_counter()
        try:
            await self._wait_for_budget(size)
            self._bytes_pending += size
            try:
                await self._send.send(frame)
            except BaseException:
                self._release(size)
                raise
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            raise ChannelClosed(f"channel {self.name!r} is closed") from exc
        finally:
            self._send_blocked += time.perf_counter() - began
        self._frames_sent += 1
        self._bytes_sent += size
        self._observe()

    async def receive(self) -> T:
        """Receive the next frame; raises :class:`anyio.EndOfStream` once the sender closed, or
        :class:`UpstreamFailed` once the buffer is empty if it closed as failed."""
        began = time.perf_counter()
        try:
            with self._end_of_stream():
                frame = await self._receive.receive()
        finally:
            self._receive_blocked += time.perf_counter() - began
        return self._received(frame)

    def receive_nowait(self) -> T:
        """The next frame if one is buffered, else :class:`anyio.WouldBlock`; the end of the
        stream as :meth:`receive` reports it."""
        with self._end_of_stream():
            frame = self._receive.receive_nowait()
        return self._received(frame)

    def close_sender(self, *, failed: bool = False) -> None:
        """Signal end of stream: the receiver sees no more frames once the buffer drains. With
        ``failed``, it then gets :class:`UpstreamFailed` instead of the end of the stream."""
        self._sender_failed = self._sender_failed or failed
        self._send.close()

    def close_receiver(self) -> None:
        """Stop receiving: pending and future sends fail with ChannelClosed."""
        self._receiver_closed = True
        self._receive.close()
        self._budget_released.set()

    def statistics(self) -> ChannelStatistics:
        """Current use and high-water marks of this channel."""
        return ChannelStatistics(
            capacity=self.capacity,
            byte_budget=self.byte_budget,
            frames_buffered=self._send.statistics().current_buffer_used,
            bytes_pending=self._bytes_pending,
            max_frames_buffered=self._max_frames,
            max_bytes_pending=self._max_bytes,
            frames_sent=self._frames_sent,
            bytes_sent=self._bytes_sent,
            send_blocked_seconds=self._send_blocked,
            receive_blocked_seconds=self._receive_blocked,
        )

    @contextlib.contextmanager
    def _end_of_stream(self) -> Iterator[None]:
        """The end of the stream, as :class:`UpstreamFailed` if the sender closed as failed."""
        try:
            yield
        except anyio.EndOfStream:
            if self._sender_failed:
                raise UpstreamFailed(
                    f"channel {self.name!r}: the stage before stopped without finishing"
                ) from None
            raise

    def _received(self, frame: T) -> T:
        self._release(frame_size(frame))
        self._observe()
        return frame

    async def _wait_for_budget(self, size: int) -> None:
        budget = self.byte_budget
        if budget is None:
            return
        while self._bytes_pending > 0 and self._bytes_pending + size > budget:
            if self._receiver_closed:
                raise anyio.BrokenResourceError
            await self._budget_released.wait()

    def _release(self, size: int) -> None:
        self._bytes_pending -= size
        self._budget_released.set()
        self._budget_released = anyio.Event()

    def _observe(self) -> None:
        buffered = self._send.statistics().current_buffer_used
        self._max_frames = max(self._max_frames, buffered)
        self._max_bytes = max(self._max_bytes, self._bytes_pending)
