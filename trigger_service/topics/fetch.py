"""One bounded blocking HTTP GET: a timeout, a size cap, TLS verified, no redirect followed.

A redirect is never followed: it could lead from an allowed host to any other one, so a
3xx answer is returned as it is (and refused by the caller, which wants 200).
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import IO

#: Seconds a whole fetch may take (connect, and every read until the end of the body).
DEFAULT_TIMEOUT = 5.0
#: Largest answer read; a signing certificate is about 2 KB.
DEFAULT_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """The status and (at most ``max_bytes`` of) the body of one answer."""

    status: int
    body: bytes
    #: Whether the body was longer than the cap (and cut there).
    truncated: bool


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    context = ssl.create_default_context()
    return urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=context))


def fetch(
    url: str, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES
) -> Fetched:
    """GET ``url`` within ``timeout`` seconds in all; raises :class:`OSError` (``TimeoutError``
    included) when it cannot be reached or does not finish in time."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": "bucketstream"}, method="GET")
    try:
        response = _opener().open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        with exc:
            body = _read(exc, max_bytes, deadline)
        return Fetched(exc.code, body[:max_bytes], len(body) > max_bytes)
    with response:
        body = _read(response, max_bytes, deadline)
        return Fetched(response.status, body[:max_bytes], len(body) > max_bytes)


def _read(response: IO[bytes], max_bytes: int, deadline: float) -> bytes:
    """Up to ``max_bytes + 1`` bytes, a read at a time, giving up at ``deadline``."""
    body = bytearray()
    while len(body) <= max_bytes:
        if time.monotonic() > deadline:
            raise TimeoutError("the answer did not arrive in time")
        chunk = response.read1(max_bytes + 1 - len(body))  # type: ignore[attr-defined]
        if not chunk:
            break
        body += chunk
    return bytes(body)
