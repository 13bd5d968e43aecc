"""``GET /``: the status page, ``POST /login``: its session, ``GET /static/{name}``: its files.

One static HTML page and a small script, served from the package's ``static/`` directory: no
build step and nothing loaded from outside the service. The page lists recent executions
newest first and keeps them live through ``GET /executions/stream``; every value is put into
the page as text (never as markup), and a Content-Security-Policy allows only this origin's
own script, so a key like ``<img src=x onerror=alert(1)>.jpg`` stays text.

With a token or HMAC secret configured the page needs a **session**, never a credential in
the address: ``GET /`` without one answers ``401`` with a login form, whose ``POST /login``
(the token or the secret, form-encoded, from this origin only: see
:mod:`~trigger_service.api.origin`) sets the ``bucketstream_session`` cookie (HttpOnly,
SameSite=Strict, expiring; :meth:`~trigger_service.api.auth.RequestAuth.new_session`) and
redirects to ``/``. A page load bearing the token header (or a signed GET), e.g. through an
authenticating proxy, gets the cookie too.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trigger_service.api.access import page_session, request_parts, service_of
from trigger_service.api.auth import SESSION_COOKIE, SESSION_SECONDS, RequestAuth
from trigger_service.api.bodies import media_type, read_body
from trigger_service.errors import Unauthorized, UnsupportedMediaType

#: The files under ``static/`` and their media types.
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "login.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
#: HTML pages, served only by their routes.
PAGES = frozenset({"index.html", "login.html"})
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: The login form's field.
LOGIN_FIELD = "token"
LOGIN_BODY_LIMIT = 4096


@cache
def static_file(name: str) -> bytes:
    """A file of the package's ``static/`` directory (read once)."""
    return resources.files("trigger_service.api").joinpath("static", name).read_bytes()


def _html(name: str, status: int = 200) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return Response(
        static_file(name), status_code=status, media_type=STATIC_FILES[name], headers=headers
    )


def _with_session(response: Response, auth: RequestAuth) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        auth.new_session(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        path="/",
        secure=False,  # served over plain HTTP on loopback; a TLS proxy in front may add it
    )
    return response


async def status_page(request: Request) -> Response:
    """The page; without a session, the login form (``401``)."""
    auth = service_of(request).config.auth
    if not auth.enabled or auth.accepts_session(page_session(request)):
        return _html("index.html")
    try:
        auth.check(request_parts(request), b"")
    except Unauthorized:
        return _html("login.html", status=401)
    return _with_session(_html("index.html"), auth)


async def login(request: Request) -> Response:
    """The login form's POST: the token or the secret → a session cookie, then ``/``."""
    auth = service_of(request).config.auth
    if media_type(request) != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("POST /login takes the login form (form-urlencoded)")
    body = await read_body(request, LOGIN_BODY_LIMIT)
    if not auth.enabled:
        return RedirectResponse("/", status_code=303)
    values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4).get(LOGIN_FIELD, [])
    if not values or not auth.accepts_login(values[0]):
        return _html("login.html", status=401)
    return _with_session(RedirectResponse("/", status_code=303), auth)


async def static(request: Request) -> Response:
    """The page's script and style sheet (no data in them, so no credential needed)."""
    name = request.path_params["name"]
    if name not in STATIC_FILES or name in PAGES:
        raise HTTPException(404, f"no static file {name[:40]!r}")
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(static_file(name), media_type=STATIC_FILES[name], headers=headers)
