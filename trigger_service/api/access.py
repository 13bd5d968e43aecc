"""The running service of a request, and the authentication of API calls and read-only views."""

from __future__ import annotations

from starlette.requests import Request

from trigger_service.api.auth import SESSION_COOKIE, RequestParts
from trigger_service.errors import ServiceUnavailable
from trigger_service.service import Service


def service_of(request: Request) -> Service:
    """The service the app serves; raises :class:`ServiceUnavailable` when it is not running."""
    service = getattr(request.app.state, "service", None)
    if not isinstance(service, Service):
        raise ServiceUnavailable("the service is not running")
    return service


def request_parts(request: Request) -> RequestParts:
    """The method, path and query as sent (percent-encoded), and the headers, of ``request``."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    query = request.scope.get("query_string", b"").decode("latin-1")
    return RequestParts(request.method, path, query, request.headers)


def page_session(request: Request) -> str | None:
    """The page session cookie a browser sent, if any."""
    return request.cookies.get(SESSION_COOKIE)


def authenticate(request: Request, body: bytes | None) -> Service:
    """Check a call by its token header or its signature over ``body``; returns the service.

    ``body`` is None for a streamed body, which only the token can authenticate.
    """
    service = service_of(request)
    service.config.auth.check(request_parts(request), body)
    return service


def authenticate_viewer(request: Request) -> Service:
    """Check a read-only request (token, signature or page session); returns the service."""
    service = service_of(request)
    service.config.auth.check_viewer(request_parts(request), page_session(request))
    return service
