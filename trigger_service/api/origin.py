"""Writes from another site's page are refused, whatever their Content-Type.

A browser sends some cross-site POSTs without a CORS preflight (forms, ``text/plain``, an
untyped ``Blob``), and with authentication off (loopback) nothing else would stop a page on
another site from starting work through a visitor's browser. Browsers say where a request
comes from: ``Sec-Fetch-Site`` (every current browser), else ``Origin``. As Go's
``http.CrossOriginProtection`` does, a non-safe request is refused with ``403
CrossOriginRefused`` when ``Sec-Fetch-Site`` is neither ``same-origin`` nor ``none``, or, without
it, when ``Origin`` names another host than ``Host``. Requests that carry neither (curl, SDKs,
storage webhooks) are not from a browser and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from trigger_service.api.errors import error_response
from trigger_service.errors import CrossOriginRefused

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_origin_problem(method: str, headers: Headers) -> str | None:
    """Why a request is a browser's cross-site write, or None when it is not one."""
    if method.upper() in SAFE_METHODS:
        return None
    site = headers.get("sec-fetch-site")
    if site is not None:
        if site.strip().lower() in {"same-origin", "none"}:
            return None
        return f"a {method} from another site (Sec-Fetch-Site: {site[:40]})"
    origin = headers.get("origin")
    if origin is None:
        return None
    netloc = urlsplit(origin.strip()).netloc.lower() if origin.strip() != "null" else ""
    if netloc and netloc == headers.get("host", "").strip().lower():
        return None
    return f"a {method} from another origin ({origin[:80]})"


class CrossOriginGuard:
    """ASGI middleware answering a browser's cross-site write with ``403``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = cross_origin_problem(scope["method"], Headers(scope=scope))
            if problem is not None:
                error = CrossOriginRefused(
                    f"refused {problem}: this API accepts writes only from its own page or "
                    "from clients that are not browsers"
                )
                response = error_response(error.code, error.message, status=error.status)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
