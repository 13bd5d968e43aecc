"""Draining on SIGTERM: uvicorn keeps serving (answering 503) while the service drains.

The first SIGTERM or SIGINT starts :meth:`~trigger_service.service.Service.drain`: pollers
stop, new executions answer 503 with ``Retry-After``, running ones get ``drain_seconds`` to
finish and the rest are handed back; then the server stops. A second signal during the drain
stops at once, still handing back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType

import uvicorn
from starlette.applications import Starlette

logger = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose stop signals drain the app's service first."""

    def __init__(self, config: uvicorn.Config, app: Starlette) -> None:
        super().__init__(config)
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self._drain_task: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().startup(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        service = getattr(self._app.state, "service", None)
        if service is None or self._loop is None or self.should_exit:
            super().handle_exit(sig, frame)
            return
        if self._draining:
            logger.warning("second stop signal: handing back what still runs now")
            self._loop.call_soon_threadsafe(service.hurry)
            return
        self._draining = True
        logger.info("stop signal: draining")
        self._loop.call_soon_threadsafe(self._start_drain, service)

    def _start_drain(self, service: object) -> None:
        self._drain_task = asyncio.ensure_future(self._drain(service))

    async def _drain(self, service: object) -> None:
        try:
            await service.drain()  # type: ignore[attr-defined]
        except Exception:
            logger.exception("draining failed")
        finally:
            self.should_exit = True
