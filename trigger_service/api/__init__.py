"""The HTTP API (starlette).

``app`` holds the routes and maps errors to answers; ``sync`` streams synchronous executions;
``bodies`` reads request bodies under a limit; ``auth`` checks the optional token or HMAC.
"""

from trigger_service.api.app import create_app

__all__ = ["create_app"]
