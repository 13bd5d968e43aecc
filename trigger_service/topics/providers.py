"""The two topic services whose HTTP(S) deliveries are verified: Amazon SNS and Huawei SMN.

Each has its own member names, its own signed members per message type (AWS's "Verifying the
signatures of Amazon SNS messages"; SMN's "Message Signature Verification"), its own signature
versions and its own signing hosts. The string to sign is ``name\\nvalue\\n`` for each signed
member, in the order listed (alphabetical); ``Subject``/``subject`` is left out when absent
(SMN: also when empty).

* SNS: ``SignatureVersion`` ``1`` is SHA1withRSA, ``2`` SHA256withRSA.
* SMN: ``signature_version`` ``v1``; the digest is the one of the signing certificate's own
  signature algorithm (SHA256withRSA for Huawei's certificate), as SMN's samples do.
"""

from __future__ import annotations

from dataclasses import dataclass

from trigger_service.topics.hosts import SMN_POLICY, SNS_POLICY, HostPolicy

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
KINDS = (NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION)

#: Digest named by a signature version; ``"certificate"``: the certificate's own digest.
CERTIFICATE_DIGEST = "certificate"


@dataclass(frozen=True)
class Provider:
    """How one topic service names, signs and hosts its deliveries."""

    name: str
    type_member: str
    topic_member: str
    message_member: str
    message_id_member: str
    signature_member: str
    version_member: str
    certificate_member: str
    subscribe_member: str
    #: Signed members of a Notification and of the two confirmations, in signing order.
    notification_members: tuple[str, ...]
    confirmation_members: tuple[str, ...]
    #: The optional member, left out of the string to sign when absent.
    subject_member: str
    #: Whether an empty subject is left out too (SMN) or signed as empty (SNS).
    empty_subject_unsigned: bool
    #: Signature version → digest name (``sha1``, ``sha256``, or :data:`CERTIFICATE_DIGEST`).
    versions: tuple[tuple[str, str], ...]
    #: Where signing certificates may be fetched from.
    certificate_hosts: HostPolicy
    #: Where a SubscribeURL may point.
    subscribe_hosts: HostPolicy

    def signed_members(self, kind: str) -> tuple[str, ...]:
        """The members signed in a message of ``kind``."""
        return self.notification_members if kind == NOTIFICATION else self.confirmation_members

    def digest(self, version: str) -> str | None:
        """The digest of signature ``version``, None for an unknown version."""
        return dict(self.versions).get(version)


SNS = Provider(
    name="sns",
    type_member="Type",
    topic_member="TopicArn",
    message_member="Message",
    message_id_member="MessageId",
    signature_member="Signature",
    version_member="SignatureVersion",
    certificate_member="SigningCertURL",
    subscribe_member="SubscribeURL",
    notification_members=("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    confirmation_members=(
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    subject_member="Subject",
    empty_subject_unsigned=False,
    versions=(("1", "sha1"), ("2", "sha256")),
    certificate_hosts=SNS_POLICY,
    subscribe_hosts=SNS_POLICY,
)

SMN = Provider(
    name="smn",
    type_member="type",
    topic_member="topic_urn",
    message_member="message",
    message_id_member="message_id",
    signature_member="signature",
    version_member="signature_version",
    certificate_member="signing_cert_url",
    subscribe_member="subscribe_url",
    notification_members=("message", "message_id", "subject", "timestamp", "topic_urn", "type"),
    confirmation_members=(
        "message",
        "message_id",
        "subscribe_url",
        "timestamp",
        "topic_urn",
        "type",
    ),
    subject_member="subject",
    empty_subject_unsigned=True,
    versions=(("v1", CERTIFICATE_DIGEST),),
    certificate_hosts=SMN_POLICY,
    subscribe_hosts=SMN_POLICY,
)

PROVIDERS = {provider.name: provider for provider in (SNS, SMN)}
