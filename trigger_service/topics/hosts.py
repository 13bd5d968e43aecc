"""Where signing certificates and subscription URLs may come from: HTTPS on the provider's hosts.

A URL is accepted only when it is plain printable ASCII, its scheme is ``https``, it has no
user information and no port, and its host matches the provider's pattern in full:
``sns.<region>.amazonaws.com`` (``.amazonaws.com.cn`` in China) for Amazon SNS, as AWS's
"Verifying the signatures of Amazon SNS messages" asks, and ``smn.<region>.myhuaweicloud.com``
for Huawei Cloud SMN. ``sns.evil.com``, ``sns.us-east-1.amazonaws.com.evil.com``,
``https://sns.us-east-1.amazonaws.com@evil.com/`` and ``http://…`` are all refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from trigger_service.errors import InvalidSignature

#: Longest URL looked at; real ones are under 300 characters.
MAX_URL_LENGTH = 2048

#: Amazon SNS endpoints: ``sns.us-east-1.amazonaws.com``, ``sns.cn-north-1.amazonaws.com.cn``.
SNS_HOSTS = re.compile(r"sns\.[a-z0-9-]{3,40}\.amazonaws\.com(?:\.cn)?")
#: Huawei Cloud SMN endpoints: ``smn.cn-north-4.myhuaweicloud.com``.
SMN_HOSTS = re.compile(r"smn\.[a-z0-9-]{3,40}\.myhuaweicloud\.com")

# RFC 3986 characters, no space, no backslash, no control character.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")


@dataclass(frozen=True)
class HostPolicy:
    """The hosts (matched in full, case-insensitively) and schemes a URL may use."""

    hosts: re.Pattern[str]
    schemes: frozenset[str] = field(default_factory=lambda: frozenset({"https"}))
    #: Whether ``host:port`` is accepted (never for the real providers).
    ports: bool = False

    def check(self, url: object, what: str) -> SplitResult:
        """``url`` split, or :class:`InvalidSignature` naming ``what`` and the reason."""
        if not isinstance(url, str) or not url:
            raise InvalidSignature(f"{what}: missing")
        if len(url) > MAX_URL_LENGTH or not _URL_CHARACTERS.fullmatch(url):
            raise InvalidSignature(f"{what}: not a plain URL")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise InvalidSignature(f"{what}: not a valid URL") from None
        if parts.scheme.lower() not in self.schemes:
            allowed = " or ".join(sorted(self.schemes))
            raise InvalidSignature(f"{what}: must be {allowed}, not {parts.scheme or 'relative'}")
        netloc = parts.netloc
        if "@" in netloc:
            raise InvalidSignature(f"{what}: user information is not allowed")
        host = netloc
        if port is not None or ":" in netloc:
            if not self.ports:
                raise InvalidSignature(f"{what}: an explicit port is not allowed")
            host = netloc.rpartition(":")[0]
        if not self.hosts.fullmatch(host.lower()):
            raise InvalidSignature(f"{what}: host {host!r} is not an allowed signing host")
        return parts


#: Amazon SNS: certificates and SubscribeURLs on ``https://sns.<region>.amazonaws.com``.
SNS_POLICY = HostPolicy(SNS_HOSTS)
#: Huawei Cloud SMN: ``https://smn.<region>.myhuaweicloud.com``.
SMN_POLICY = HostPolicy(SMN_HOSTS)
