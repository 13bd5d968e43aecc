"""SNS / SMN test material: a test CA's certificates, signed messages, a certificate source."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from trigger_service.topics import SNS
from trigger_service.topics.providers import Provider
from trigger_service.topics.signature import string_to_sign

TOPIC = "arn:aws:sns:us-east-1:123456789012:uploads"
SMN_TOPIC = "urn:smn:cn-north-4:0919a0fb6c80f38f2f06c01ea940d5d3:uploads"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
SMN_CERT_URL = "https://smn.cn-north-4.myhuaweicloud.com/smn/SMN_cn-north-4_test.pem"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def certificate(
    key: rsa.RSAPrivateKey, ca: rsa.RSAPrivateKey, *, days: tuple[int, int] = (-30, 365)
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(name("sns.amazonaws.com"))
        .issuer_name(name("Test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0]))
        .not_valid_after(NOW + timedelta(days=days[1]))
        .sign(ca, hashes.SHA256())
    )


def make_keys() -> dict[str, rsa.RSAPrivateKey]:
    """Three RSA keys: the CA (c), the signer (k), another (o)."""
    return {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in "cko"}


class Certificates:
    """A certificate source mapping URLs to test certificates; counts its fetches."""

    def __init__(self, table: dict[str, x509.Certificate]) -> None:
        self.table = table
        self.fetches = 0

    def certificate(self, url: str) -> x509.Certificate:
        self.fetches += 1
        return self.table[url]


def sign(
    provider: Provider, message: dict[str, Any], key: rsa.RSAPrivateKey, digest: str
) -> dict[str, Any]:
    kind = message[provider.type_member]
    data = string_to_sign(provider, message, kind)
    algorithm = hashes.SHA1() if digest == "sha1" else hashes.SHA256()
    signature = key.sign(data, padding.PKCS1v15(), algorithm)
    return {**message, provider.signature_member: base64.b64encode(signature).decode()}


def sns_notification(key: rsa.RSAPrivateKey, version: str = "2", **changes: Any) -> dict[str, Any]:
    """A Notification signed with ``key`` (SignatureVersion 1: SHA1, 2: SHA256)."""
    message = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps({"Records": []}),
        "Timestamp": "2026-06-01T00:00:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
    }
    return {**sign(SNS, message, key, "sha1" if version == "1" else "sha256"), **changes}
