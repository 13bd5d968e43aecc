"""The running service of a request, and the authentication of the read-only views."""

from __future__ import annotations

from starlette.requests import Request

from trigger_service.api.auth import TOKEN_COOKIE, TOKEN_QUERY
from trigger_service.errors import ServiceUnavailable
from trigger_service.service import Service


def service_of(request: Request) -> Service:
    """The service the app serves; raises :class:`ServiceUnavailable` when it is not running."""
    service = getattr(request.app.state, "service", None)
    if not isinstance(service, Service):
        raise ServiceUnavailable("the service is not running")
    return service


def viewer_credential(request: Request) -> str | None:
    """The credential a browser sent as ``?token=`` or in the cookie, if any."""
    return request.query_params.get(TOKEN_QUERY) or request.cookies.get(TOKEN_COOKIE)


def authenticate_viewer(request: Request) -> Service:
    """Check a read-only request (header, query or cookie credential); returns the service."""
    service = service_of(request)
    service.config.auth.check_viewer(request.headers, viewer_credential(request))
    return service
