"""Optional request authentication: a shared token, or an HMAC-SHA256 signature of the body.

* ``X-Bucketstream-Token: <token>`` — the shared token, compared in constant time;
* ``X-Bucketstream-Signature: sha256=<hex>`` — HMAC-SHA256 of the raw request body with the
  shared secret (what webhook senders that sign their deliveries use; an empty body for GET).

When neither a token nor a secret is configured every request is accepted (the service binds
127.0.0.1 by default). A signature can only be checked on a body read whole, so a raw-bytes
synchronous execution (streamed to storage as it arrives) needs the token.

A browser cannot set headers on a page load, an ``<img>`` or an ``EventSource``, so the
read-only views (:meth:`RequestAuth.check_viewer`) also take the credential as ``?token=`` or
the ``bucketstream_token`` cookie: the token itself, or, with only an HMAC secret, the
signature of an empty body (``sha256=<hex>``, what a GET would send in the header).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from trigger_service.errors import Unauthorized

TOKEN_HEADER = "X-Bucketstream-Token"
SIGNATURE_HEADER = "X-Bucketstream-Signature"
SIGNATURE_PREFIX = "sha256="
#: Cookie holding a viewer's credential (set by the status page from ``?token=``).
TOKEN_COOKIE = "bucketstream_token"
TOKEN_QUERY = "token"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Bucketstream-Signature`` value of ``body``: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


@dataclass(frozen=True)
class RequestAuth:
    """The configured credentials; both None means authentication is off."""

    token: str | None = None
    hmac_secret: str | None = None

    @property
    def enabled(self) -> bool:
        """Whether requests must authenticate."""
        return bool(self.token or self.hmac_secret)

    def check(self, headers: Mapping[str, str], body: bytes | None) -> None:
        """Raise :class:`Unauthorized` unless the token or the signature of ``body`` matches.

        ``body`` is None when the body is streamed rather than read whole: only the token
        can then authenticate the request.
        """
        if not self.enabled:
            return
        if self.token:
            given = headers.get(TOKEN_HEADER.lower()) or headers.get(TOKEN_HEADER)
            if given is not None and hmac.compare_digest(
                given.encode("utf-8"), self.token.encode("utf-8")
            ):
                return
        if self.hmac_secret and body is not None:
            signature = headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER)
            if signature is not None and hmac.compare_digest(
                signature.strip().lower().encode("utf-8"),
                sign(self.hmac_secret, body).encode("utf-8"),
            ):
                return
        accepted = []
        if self.token:
            accepted.append(f"the {TOKEN_HEADER} header")
        if self.hmac_secret:
            accepted.append(f"an HMAC-SHA256 {SIGNATURE_HEADER} of the body")
        raise Unauthorized(f"authentication required: send {' or '.join(accepted)}")

    def accepts_credential(self, credential: str) -> bool:
        """Whether ``credential`` (from a query or cookie) is the token or an empty-body HMAC."""
        given = credential.strip().encode("utf-8")
        accepted = False
        if self.token:
            accepted |= hmac.compare_digest(given, self.token.encode("utf-8"))
        if self.hmac_secret:
            accepted |= hmac.compare_digest(given.lower(), sign(self.hmac_secret, b"").encode())
        return accepted

    def check_viewer(self, headers: Mapping[str, str], credential: str | None) -> None:
        """Like :meth:`check` for a GET, also accepting ``credential`` from a query or cookie."""
        if not self.enabled or (credential is not None and self.accepts_credential(credential)):
            return
        try:
            self.check(headers, b"")
        except Unauthorized:
            raise Unauthorized(
                f"authentication required: send the {TOKEN_HEADER} header, "
                f"?{TOKEN_QUERY}= or the {TOKEN_COOKIE} cookie"
            ) from None
