"""SNS / SMN verification: real RSA signatures made with a test CA, checked by the verifier."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from trigger_service.errors import InvalidSignature, TopicNotAllowed
from trigger_service.topics import SMN, SNS, CertificateCache, TopicDeliveries
from trigger_service.topics.hosts import SNS_POLICY
from trigger_service.topics.providers import Provider
from trigger_service.topics.signature import string_to_sign

pytestmark = pytest.mark.anyio

TOPIC = "arn:aws:sns:us-east-1:123456789012:uploads"
SMN_TOPIC = "urn:smn:cn-north-4:0919a0fb6c80f38f2f06c01ea940d5d3:uploads"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"
SMN_CERT_URL = "https://smn.cn-north-4.myhuaweicloud.com/smn/SMN_cn-north-4_test.pem"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    key: rsa.RSAPrivateKey, ca: rsa.RSAPrivateKey, *, days: tuple[int, int] = (-30, 365)
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name("sns.amazonaws.com"))
        .issuer_name(_name("Test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=days[0]))
        .not_valid_after(NOW + timedelta(days=days[1]))
        .sign(ca, hashes.SHA256())
    )


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in "cko"}


class Certificates:
    """A certificate source mapping URLs to test certificates; counts its fetches."""

    def __init__(self, table: dict[str, x509.Certificate]) -> None:
        self.table = table
        self.fetches = 0

    def certificate(self, url: str) -> x509.Certificate:
        self.fetches += 1
        return self.table[url]


def _sign(
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
    return {**_sign(SNS, message, key, "sha1" if version == "1" else "sha256"), **changes}


def _deliveries(certificates: Any, topics: frozenset[str] = frozenset({TOPIC})) -> TopicDeliveries:
    return TopicDeliveries(
        path_secrets=("s3cr3t",), topics=topics, certificates=certificates, clock=lambda: NOW
    )


@pytest.mark.parametrize("version", ["1", "2"])
async def test_signed_notification_verifies(keys: dict[str, Any], version: str) -> None:
    source = Certificates({CERT_URL: _certificate(keys["k"], keys["c"])})
    verified = await _deliveries(source).verify(SNS, sns_notification(keys["k"], version))
    assert (verified.kind, verified.topic, verified.provider) == ("Notification", TOPIC, "sns")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"Message": json.dumps({"Records": [{"tampered": True}]})}, "does not match"),
        ({"Subject": "another"}, "does not match"),
        ({"SignatureVersion": "3"}, "not supported"),
        ({"Signature": "not base64!"}, "not base64"),
        ({"SigningCertURL": "http://sns.us-east-1.amazonaws.com/c.pem"}, "must be https"),
        ({"SigningCertURL": "https://sns.evil.com/c.pem"}, "not an allowed"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.com/c.pem"}, "not an allo"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com@evil.com/c.pem"}, "user info"),
        ({"SigningCertURL": "https://x@sns.us-east-1.amazonaws.com/c.pem"}, "user info"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com:8443/c.pem"}, "port"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com/c.txt"}, ".pem"),
    ],
)
async def test_tampered_or_badly_sourced_messages_are_refused(
    keys: dict[str, Any], change: dict[str, str], match: str
) -> None:
    source = Certificates({CERT_URL: _certificate(keys["k"], keys["c"])})
    message = {**sns_notification(keys["k"]), **change}
    with pytest.raises(InvalidSignature, match=match):
        await _deliveries(source).verify(SNS, message)


async def test_a_certificate_of_another_key_is_refused(keys: dict[str, Any]) -> None:
    source = Certificates({CERT_URL: _certificate(keys["o"], keys["c"])})
    with pytest.raises(InvalidSignature, match="does not match"):
        await _deliveries(source).verify(SNS, sns_notification(keys["k"]))


async def test_an_expired_certificate_is_refused(keys: dict[str, Any]) -> None:
    source = Certificates({CERT_URL: _certificate(keys["k"], keys["c"], days=(-400, -1))})
    with pytest.raises(InvalidSignature, match="not now"):
        await _deliveries(source).verify(SNS, sns_notification(keys["k"]))


async def test_another_topic_is_refused_before_any_fetch(keys: dict[str, Any]) -> None:
    source = Certificates({CERT_URL: _certificate(keys["k"], keys["c"])})
    other = sns_notification(keys["k"], TopicArn="arn:aws:sns:us-east-1:999999999999:x")
    with pytest.raises(TopicNotAllowed):
        await _deliveries(source).verify(SNS, other)
    assert source.fetches == 0


def test_the_host_check_on_its_own() -> None:
    for good in [
        "https://sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/a.pem",
        "https://SNS.eu-west-1.amazonaws.com/a.pem",
    ]:
        assert SNS_POLICY.check(good, "url").path == "/a.pem"
    for bad in [
        "http://sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.evil.com/a.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/a.pem",
        "https://user@sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.us-east-1.amazonaws.com:443@evil.com/a.pem",
        "https://sns.us-east-1.amazonaws.com./a.pem",
        "https://evil.com\\@sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.us-east-1.amazonaws.com /a.pem",
        "//sns.us-east-1.amazonaws.com/a.pem",
        "",
    ]:
        with pytest.raises(InvalidSignature):
            SNS_POLICY.check(bad, "url")


async def test_smn_notification_verifies_with_the_certificates_digest(
    keys: dict[str, Any],
) -> None:
    message = {
        "type": "Notification",
        "message_id": "88c726942175432bac921eafd0036163",
        "topic_urn": SMN_TOPIC,
        "message": json.dumps({"Records": []}),
        "timestamp": "2026-06-01T00:00:00Z",
        "signature_version": "v1",
        "signing_cert_url": SMN_CERT_URL,
    }
    signed = _sign(SMN, message, keys["k"], "sha256")
    source = Certificates({SMN_CERT_URL: _certificate(keys["k"], keys["c"])})
    deliveries = _deliveries(source, frozenset({SMN_TOPIC}))
    assert (await deliveries.verify(SMN, signed)).topic == SMN_TOPIC
    with pytest.raises(InvalidSignature):
        await deliveries.verify(SMN, {**signed, "message": "{}"})


def test_the_cache_is_a_bounded_lru_with_a_ttl(keys: dict[str, Any]) -> None:
    certificate = _certificate(keys["k"], keys["c"])
    source = Certificates({f"u{i}": certificate for i in range(4)})
    now = [0.0]
    cache = CertificateCache(source, max_entries=2, ttl_seconds=10, clock=lambda: now[0])
    cache.certificate("u0")
    cache.certificate("u0")
    assert source.fetches == 1
    cache.certificate("u1")
    cache.certificate("u2")  # evicts u0
    assert len(cache) == 2
    cache.certificate("u0")
    assert source.fetches == 4
    now[0] = 11.0
    cache.certificate("u0")
    assert source.fetches == 5


def test_path_secrets_compare_and_stay_out_of_reprs() -> None:
    deliveries = TopicDeliveries(path_secrets=("one", "two"))
    assert deliveries.accepts_secret("two") and not deliveries.accepts_secret("three")
    assert "two" not in repr(deliveries)
    assert not TopicDeliveries().accepts_secret("")
