"""Optional request authentication: a shared token, or an HMAC-SHA256 signature of the body.

* ``X-Bucketstream-Token: <token>`` — the shared token, compared in constant time;
* ``X-Bucketstream-Signature: sha256=<hex>`` — HMAC-SHA256 of the raw request body with the
  shared secret (what webhook senders that sign their deliveries use; an empty body for GET).

When neither a token nor a secret is configured every request is accepted (the service binds
127.0.0.1 by default). A signature can only be checked on a body read whole, so a raw-bytes
synchronous execution (streamed to storage as it arrives) needs the token.
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
