"""Signing certificates: where they come from (a :class:`CertificateSource`) and their cache.

:class:`HttpsCertificates` fetches a PEM certificate over verified HTTPS with a short timeout,
a size cap and no redirect; :class:`CertificateCache` keeps the last ones used (bounded LRU,
each entry for a TTL) so a burst of deliveries fetches a certificate once. The URL's host is
checked *before* any source is asked (:mod:`trigger_service.topics.verifier`), so a source
only ever sees allowed URLs; tests put a source of their own behind the same check.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from trigger_service.errors import CertificateUnavailable
from trigger_service.topics.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, fetch

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

#: Certificates kept at most, and for how long (SNS rotates them rarely; a day is plenty).
DEFAULT_CACHE_ENTRIES = 32
DEFAULT_CACHE_SECONDS = 3600.0


class CertificateSource(Protocol):
    """Gives the certificate at an (already allowed) URL; blocking, run in a worker thread."""

    def certificate(self, url: str) -> Certificate:
        """The certificate, or :class:`~trigger_service.errors.CertificateUnavailable`."""
        ...


def load_pem_certificate(data: bytes, url: str) -> Certificate:
    """The first certificate of a PEM document; :class:`CertificateUnavailable` if none."""
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CertificateUnavailable(f"{url}: not a PEM certificate") from None


class HttpsCertificates:
    """Fetches certificates over HTTPS: TLS verified, ``timeout`` in all, ``max_bytes`` at most."""

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes

    def certificate(self, url: str) -> Certificate:
        """Fetch and parse the certificate at ``url``."""
        try:
            answer = fetch(url, timeout=self.timeout, max_bytes=self.max_bytes)
        except OSError as exc:
            raise CertificateUnavailable(f"{url}: not fetched ({exc})") from None
        if answer.status != 200:
            raise CertificateUnavailable(f"{url}: answered {answer.status}")
        if answer.truncated:
            raise CertificateUnavailable(f"{url}: larger than {self.max_bytes} bytes")
        return load_pem_certificate(answer.body, url)


class CertificateCache:
    """A bounded LRU of another source's certificates, each kept ``ttl_seconds``.

    Failures are not cached: the next delivery tries again. Thread-safe; two deliveries that
    miss at once may both fetch, and the later one is kept.
    """

    def __init__(
        self,
        source: CertificateSource,
        *,
        max_entries: int = DEFAULT_CACHE_ENTRIES,
        ttl_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.source = source
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Certificate]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def certificate(self, url: str) -> Certificate:
        """The cached certificate of ``url`` while fresh, else the source's (then cached)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(url)
            if entry is not None and now - entry[0] < self.ttl_seconds:
                self._entries.move_to_end(url)
                return entry[1]
        certificate = self.source.certificate(url)
        with self._lock:
            self._entries[url] = (self._clock(), certificate)
            self._entries.move_to_end(url)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return certificate


def default_certificates() -> CertificateSource:
    """The service's source: :class:`HttpsCertificates` behind a :class:`CertificateCache`."""
    return CertificateCache(HttpsCertificates())
