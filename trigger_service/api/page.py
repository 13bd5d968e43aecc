"""``GET /``: the status page, and ``GET /static/{name}``: its script and style sheet.

One static HTML page and a small script, served from the package's ``static/`` directory: no
build step and nothing loaded from outside the service. The page lists recent executions
newest first and keeps them live through ``GET /executions/stream``; every value is put into
the page as text (never as markup), and a Content-Security-Policy allows only this origin's
own script, so a key like ``<img src=x onerror=alert(1)>.jpg`` stays text.

With a token or HMAC secret configured the page requires it like the API does, also as
``?token=``: the page then stores it in an HttpOnly, SameSite=Strict cookie and redirects to
itself without the token in the address, and its requests carry the cookie.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trigger_service.api.access import authenticate_viewer
from trigger_service.api.auth import TOKEN_COOKIE, TOKEN_QUERY

#: The files under ``static/`` and their media types.
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def static_file(name: str) -> bytes:
    """A file of the package's ``static/`` directory (read once)."""
    return resources.files("trigger_service.api").joinpath("static", name).read_bytes()


async def status_page(request: Request) -> Response:
    """The page; ``?token=`` moves the credential into a cookie first."""
    authenticate_viewer(request)
    token = request.query_params.get(TOKEN_QUERY)
    if token is not None:
        response: Response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/", secure=False
        )
        return response
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return Response(
        static_file("index.html"), media_type=STATIC_FILES["index.html"], headers=headers
    )


async def static(request: Request) -> Response:
    """The page's script and style sheet (no data in them, so no credential needed)."""
    name = request.path_params["name"]
    if name not in STATIC_FILES or name == "index.html":
        raise HTTPException(404, f"no static file {name[:40]!r}")
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(static_file(name), media_type=STATIC_FILES[name], headers=headers)
