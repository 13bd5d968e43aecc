"""The HTTP API (starlette).

``app`` holds the routes and maps errors to answers; ``sync`` streams synchronous executions;
``bodies`` reads request bodies under a limit; ``auth`` and ``access`` check the optional
token or HMAC; ``feed`` follows the store's changes and ``live`` streams them as Server-Sent
Events; ``page`` (with ``static/``), ``preview`` and ``retry`` serve the status page;
``openapi`` generates the API document; ``logcontext`` tags log lines with the execution.
"""

from trigger_service.api.app import create_app

__all__ = ["create_app"]
