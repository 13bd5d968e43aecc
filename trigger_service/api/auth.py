"""Request authentication: a shared token, or an HMAC signature of the whole request.

* ``X-Bucketstream-Token: <token>`` — the shared token, compared in constant time;
* ``X-Bucketstream-Timestamp: <unix seconds>`` and ``X-Bucketstream-Signature: v1=<hex>`` —
  HMAC-SHA256 with the shared secret of (:func:`signing_payload`)::

      timestamp \\n METHOD \\n path \\n query \\n hex(sha256(body))

  where path and query are exactly as sent (percent-encoded, no ``?``). A signature is good
  for :data:`TOLERANCE_SECONDS` either side of the timestamp (as Stripe and Standard Webhooks
  do), only for that method, route, query and body, and only once: each worker remembers the
  signatures it accepted within the window and refuses them again (:class:`ReplayGuard`).
  :func:`sign_request` builds the headers for clients.

When neither a token nor a secret is configured every request is accepted (``serve`` then
listens on loopback only, unless told ``--insecure-no-auth``). A signature can only be checked
on a body read whole, so a raw-bytes synchronous execution (streamed to storage as it arrives)
needs the token.

A browser cannot set headers on a page load, an ``<img>`` or an ``EventSource``, so the
read-only views also take a **page session**: the ``bucketstream_session`` cookie (HttpOnly,
SameSite=Strict) that ``POST /login`` (a form with the token or the secret) or a first request
bearing the header sets. It holds no secret: an expiry and a MAC under a key derived from the
token or the secret (:meth:`RequestAuth.new_session`), so it expires, and it is worth nothing
as a header or for signing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from trigger_service.errors import Unauthorized

TOKEN_HEADER = "X-Bucketstream-Token"
TIMESTAMP_HEADER = "X-Bucketstream-Timestamp"
SIGNATURE_HEADER = "X-Bucketstream-Signature"
#: Version tag of the signature scheme (``v1=<hex>``); several may be sent, comma-separated.
SIGNATURE_VERSION = "v1"
#: How far a signed request's timestamp may be from the server's clock, either way.
TOLERANCE_SECONDS = 300
#: Cookie holding a page session (set by ``POST /login`` or a header-bearing page load).
SESSION_COOKIE = "bucketstream_session"
#: How long a page session lasts.
SESSION_SECONDS = 12 * 3600
#: Signatures remembered at most (the oldest are forgotten first beyond it).
MAX_REMEMBERED = 100_000

#: The ``Host`` names accepted by default: loopback only (a DNS-rebound name is refused).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")

_SESSION_CONTEXT = b"bucketstream page session v1"


def signing_payload(timestamp: str, method: str, path: str, query: str, body: bytes) -> bytes:
    """The bytes a ``v1`` signature covers: timestamp, method, path, query, body hash."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([timestamp, method.upper(), path, query, digest]).encode("utf-8")


def signature(secret: str, timestamp: str, method: str, path: str, query: str, body: bytes) -> str:
    """The ``X-Bucketstream-Signature`` value of one request: ``v1=<hex>``."""
    payload = signing_payload(timestamp, method, path, query, body)
    digest = hmac.new(secret.encode("utf-8"), payload, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def sign_request(
    secret: str, method: str, target: str, body: bytes = b"", *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers that sign ``METHOD target`` with ``body``; ``target`` is ``/path?query``.

    ``target`` is the path and query exactly as they will be sent (percent-encoded).
    ``timestamp`` defaults to now (Unix seconds).
    """
    path, _, query = target.partition("?")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(secret, stamp, method, path, query, body),
    }


@dataclass(frozen=True)
class RequestParts:
    """What of an HTTP request a signature covers, besides the body."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name in ``headers``."""
        return self.headers.get(name.lower()) or self.headers.get(name)


class ReplayGuard:
    """Signatures accepted within the tolerance window; each is accepted once.

    Held per worker: several workers behind one address each refuse a replay they saw, and
    the timestamp window bounds what any of them can be replayed.
    """

    def __init__(self, limit: int = MAX_REMEMBERED) -> None:
        self._seen: dict[str, float] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def first_use(self, signature: str, expires: float, now: float) -> bool:
        """Remember ``signature`` until ``expires``; False if it was already remembered."""
        with self._lock:
            if len(self._seen) >= self._limit:
                self._forget(now)
            if signature in self._seen:
                return False
            self._seen[signature] = expires
            return True

    def _forget(self, now: float) -> None:
        expired = [key for key, until in self._seen.items() if until <= now]
        for key in expired:
            del self._seen[key]
        while len(self._seen) >= self._limit:  # all live: drop the oldest remembered
            del self._seen[next(iter(self._seen))]


@dataclass(frozen=True)
class RequestAuth:
    """The configured credentials; both None means authentication is off."""

    token: str | None = None
    hmac_secret: str | None = None
    #: Seconds a signature's timestamp may be off, either way.
    tolerance_seconds: int = TOLERANCE_SECONDS
    #: ``Host`` names served (``*.example.com`` wildcards, ``*`` for any); others get 400.
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    replays: ReplayGuard = field(default_factory=ReplayGuard, compare=False, repr=False)

    @property
    def enabled(self) -> bool:
        """Whether requests must authenticate."""
        return bool(self.token or self.hmac_secret)

    def check(self, request: RequestParts, body: bytes | None) -> None:
        """Raise :class:`Unauthorized` unless the token or the request's signature matches.

        ``body`` is None when the body is streamed rather than read whole: only the token
        can then authenticate the request.
        """
        if not self.enabled or self._token_matches(request.header(TOKEN_HEADER)):
            return
        problem = "no credential"
        if self.hmac_secret and body is not None:
            found = self._signature_problem(request, body)
            if found is None:
                return
            problem = found
        accepted = []
        if self.token:
            accepted.append(f"the {TOKEN_HEADER} header")
        if self.hmac_secret:
            accepted.append(
                f"{TIMESTAMP_HEADER} and an HMAC-SHA256 {SIGNATURE_HEADER} "
                "(v1=) of timestamp, method, path, query and body"
            )
        raise Unauthorized(f"authentication required ({problem}): send {' or '.join(accepted)}")

    def _token_matches(self, given: str | None) -> bool:
        if not self.token or not isinstance(given, str):
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def _signature_problem(self, request: RequestParts, body: bytes) -> str | None:
        """None when the request is signed, fresh and new; else what is wrong with it."""
        assert self.hmac_secret is not None
        stamp = (request.header(TIMESTAMP_HEADER) or "").strip()
        given = request.header(SIGNATURE_HEADER)
        if not isinstance(given, str):
            return "no credential"
        if not stamp.isdigit() or len(stamp) > 12:
            return f"{TIMESTAMP_HEADER} must be Unix seconds"
        now = time.time()
        if abs(now - int(stamp)) > self.tolerance_seconds:
            return f"the timestamp is more than {self.tolerance_seconds} s from the server's clock"
        expected = signature(
            self.hmac_secret, stamp, request.method, request.path, request.query, body
        ).encode("utf-8")
        for candidate in given.split(","):
            offered = candidate.strip().lower().encode("utf-8")
            if hmac.compare_digest(offered, expected):
                expires = int(stamp) + self.tolerance_seconds + 1
                if not self.replays.first_use(expected.decode(), expires, now):
                    return "this signature was already used"
                return None
        return "the signature does not match this request"

    def _session_key(self) -> bytes:
        secret = self.hmac_secret or self.token
        assert secret is not None
        return hmac.new(secret.encode("utf-8"), _SESSION_CONTEXT, hashlib.sha256).digest()

    def new_session(self, *, now: float | None = None) -> str:
        """A page session cookie value: ``v1.<expires>.<nonce>.<mac>``, valid for 12 hours."""
        expires = int(time.time() if now is None else now) + SESSION_SECONDS
        body = f"v1.{expires}.{secrets.token_hex(8)}"
        mac = hmac.new(self._session_key(), body.encode(), hashlib.sha256).hexdigest()
        return f"{body}.{mac}"

    def accepts_session(self, session: str | None) -> bool:
        """Whether ``session`` is a page session this service issued that has not expired."""
        if not self.enabled or not session:
            return False
        body, _, mac = session.strip().rpartition(".")
        version, _, rest = body.partition(".")
        expires, _, _nonce = rest.partition(".")
        if version != "v1" or not expires.isdigit() or int(expires) < time.time():
            return False
        expected = hmac.new(self._session_key(), body.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(mac.encode(), expected.encode())

    def accepts_login(self, credential: str) -> bool:
        """Whether a login form's ``credential`` is the token or the HMAC secret."""
        given = credential.strip().encode("utf-8")
        accepted = False
        for known in (self.token, self.hmac_secret):
            if known:
                accepted |= hmac.compare_digest(given, known.encode("utf-8"))
        return accepted

    def check_viewer(self, request: RequestParts, session: str | None) -> None:
        """Like :meth:`check` for a GET, also accepting a page ``session`` cookie."""
        if not self.enabled or self.accepts_session(session):
            return
        try:
            self.check(request, b"")
        except Unauthorized as exc:
            raise Unauthorized(
                f"{exc.message}, or log in on the status page (POST /login) for the "
                f"{SESSION_COOKIE} cookie"
            ) from None
