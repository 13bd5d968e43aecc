"""A service app served by uvicorn on loopback in a thread, and a step the test releases.

Streams and pages need a real HTTP server (an in-process ASGI transport buffers whole
responses). The ``hold`` step (``tests.support.live:hold``) forwards nothing until
the test sets the :class:`threading.Event` named by its ``name`` parameter, so a test (or a
browser) can watch an execution while it is running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import uvicorn
from starlette.applications import Starlette

from steps import StepContext
from trigger_service.api.app import create_app
from trigger_service.cli.embedded import free_port
from trigger_service.service import ServiceConfig

#: Events of the ``hold`` step by name; set one to let its executions go on.
HOLDS: dict[str, threading.Event] = {}


async def hold(ctx: StepContext) -> None:
    """Forward chunks once ``HOLDS[name]`` is set (or after 30 s), ``delay`` s apart."""
    event = HOLDS.setdefault(ctx.params.name, threading.Event())
    delay = float(getattr(ctx.params, "delay", 0))
    await anyio.to_thread.run_sync(event.wait, 30, abandon_on_cancel=True)
    async for chunk in ctx.input:
        await anyio.sleep(delay)
        await ctx.write(chunk)


@contextmanager
def served(config: ServiceConfig) -> Iterator[tuple[str, Starlette]]:
    """Serve ``create_app(config)`` on a free loopback port; yields its base URL and app."""
    port = free_port()
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
