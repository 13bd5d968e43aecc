"""ASGI middleware: requests about one execution log with its id (access lines included).

A request under ``/executions/{id}`` runs, and sends its answer, inside
:func:`trigger_service.logcontext.log_context` with ``execution_id=id``, so every line logged
meanwhile — the server's access line too, written while the answer starts — names it.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from trigger_service.logcontext import log_context

_EXECUTION_PATH = re.compile(r"^/executions/(?!stream(?:/|$))([^/]{1,200})(?:/|$)")


class ExecutionLogContext:
    """Binds ``execution_id`` from the path for the whole request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _EXECUTION_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        with log_context(execution_id=match.group(1)):
            await self.app(scope, receive, send)
