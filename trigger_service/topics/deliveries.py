"""SNS and SMN HTTP(S) deliveries: verified, from allowed topics, confirmed when asked.

:class:`TopicDeliveries` is the configuration and the checks of ``POST /events/sns/{secret}``
and ``POST /events/smn/{secret}`` (:mod:`trigger_service.api.topics`). A message is verified
in this order, the cheap checks before any network access:

1. its type is a Notification, SubscriptionConfirmation or UnsubscribeConfirmation;
2. its topic (``TopicArn``, ``topic_urn``) is in :attr:`TopicDeliveries.topics`
   (:class:`~trigger_service.errors.TopicNotAllowed` otherwise);
3. its signature version is known, its certificate URL is HTTPS on the provider's hosts
   (:mod:`~trigger_service.topics.hosts`) and its signature is base64;
4. the certificate (fetched, then cached) is within its validity dates and its RSA key
   verifies the signature over the string to sign (:mod:`~trigger_service.topics.signature`).

Anything unverified raises :class:`~trigger_service.errors.InvalidSignature`. A verified
SubscriptionConfirmation is confirmed by a GET of its ``SubscribeURL``, only on the
provider's hosts, with a timeout and a size cap.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from trigger_service.errors import (
    ConfirmationFailed,
    InvalidSignature,
    MalformedEvent,
    TopicNotAllowed,
)
from trigger_service.topics.certificates import CertificateSource, default_certificates
from trigger_service.topics.fetch import DEFAULT_TIMEOUT, fetch
from trigger_service.topics.providers import KINDS, PROVIDERS, Provider
from trigger_service.topics.signature import check_signature, decode_signature, string_to_sign

logger = logging.getLogger(__name__)

_SUBSCRIPTION_ARN = re.compile(rb"<SubscriptionArn>([^<]{1,512})</SubscriptionArn>")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class VerifiedMessage:
    """A message whose signature verified, from an allowed topic."""

    provider: str
    kind: str
    topic: str
    message_id: str
    document: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Confirmed:
    """What confirming a subscription did."""

    topic: str
    #: The subscription's ARN when the provider's answer names it (SNS does).
    subscription: str | None


@dataclass(frozen=True)
class TopicDeliveries:
    """Path secrets, allowed topics and certificate source of SNS/SMN HTTP(S) deliveries.

    With no secret the delivery routes answer 404 to everything; with no topic every message
    is refused. The secrets never appear in a repr.
    """

    path_secrets: tuple[str, ...] = field(default=(), repr=False)
    #: Allowed SNS topic ARNs and SMN topic URNs.
    topics: frozenset[str] = frozenset()
    certificates: CertificateSource = field(default_factory=default_certificates, repr=False)
    providers: Mapping[str, Provider] = field(default_factory=lambda: dict(PROVIDERS))
    #: Seconds a confirmation GET may take in all.
    confirm_timeout: float = DEFAULT_TIMEOUT
    clock: Callable[[], datetime] = field(default=_now, repr=False)

    @property
    def enabled(self) -> bool:
        """Whether any delivery path exists."""
        return bool(self.path_secrets)

    def accepts_secret(self, given: str) -> bool:
        """Whether ``given`` is one of the path secrets (constant time in each comparison)."""
        encoded = given.encode("utf-8", "surrogatepass")
        matched = False
        for secret in self.path_secrets:
            matched |= hmac.compare_digest(encoded, secret.encode("utf-8"))
        return matched

    async def verify(self, provider: Provider, document: Mapping[str, Any]) -> VerifiedMessage:
        """``document`` verified (see the module doc) or an error saying what failed."""
        kind = document.get(provider.type_member)
        if kind not in KINDS:
            raise MalformedEvent(
                f"{provider.type_member}: expected one of {', '.join(KINDS)}, got {kind!r:.60}"
            )
        assert isinstance(kind, str)
        topic = document.get(provider.topic_member)
        if not isinstance(topic, str) or topic not in self.topics:
            raise TopicNotAllowed(
                f"{provider.topic_member} {topic!r:.200} is not an allowed topic "
                f"(service setting {provider.name}_topics)"
            )
        version = document.get(provider.version_member)
        digest = provider.digest(version) if isinstance(version, str) else None
        if digest is None:
            known = " or ".join(name for name, _ in provider.versions)
            raise InvalidSignature(
                f"{provider.version_member} {version!r:.20} is not supported ({known})"
            )
        url = document.get(provider.certificate_member)
        parts = provider.certificate_hosts.check(url, provider.certificate_member)
        if not parts.path.endswith(".pem"):
            raise InvalidSignature(f"{provider.certificate_member}: not a .pem certificate")
        assert isinstance(url, str)
        signature = decode_signature(
            document.get(provider.signature_member), provider.signature_member
        )
        signed = string_to_sign(provider, document, kind)
        certificate = await anyio.to_thread.run_sync(self.certificates.certificate, url)
        now = self.clock()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise InvalidSignature(
                f"the signing certificate is valid from {certificate.not_valid_before_utc} "
                f"to {certificate.not_valid_after_utc}, not now"
            )
        check_signature(certificate, signature, signed, digest)
        message_id = document.get(provider.message_id_member)
        return VerifiedMessage(provider.name, kind, topic, str(message_id), document)

    async def confirm(self, provider: Provider, message: VerifiedMessage) -> Confirmed:
        """GET the ``SubscribeURL`` of a verified SubscriptionConfirmation (allowed hosts only)."""
        url = message.document.get(provider.subscribe_member)
        provider.subscribe_hosts.check(url, provider.subscribe_member)
        assert isinstance(url, str)
        try:
            answer = await anyio.to_thread.run_sync(
                lambda: fetch(url, timeout=self.confirm_timeout)
            )
        except OSError as exc:
            raise ConfirmationFailed(
                f"subscription to {message.topic} not confirmed: {provider.subscribe_member} "
                f"not reached ({type(exc).__name__})"
            ) from None
        if answer.status != 200:
            raise ConfirmationFailed(
                f"subscription to {message.topic} not confirmed: {provider.subscribe_member} "
                f"answered {answer.status}"
            )
        found = _SUBSCRIPTION_ARN.search(answer.body)
        subscription = found.group(1).decode("utf-8", "replace") if found else None
        logger.info("confirmed the %s subscription to topic %s", provider.name, message.topic)
        return Confirmed(message.topic, subscription)
