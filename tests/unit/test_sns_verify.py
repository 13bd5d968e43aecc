"""SNS / SMN verification: real RSA signatures made with a test CA, checked by the verifier."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.sns import (
    CERT_URL,
    NOW,
    SMN_CERT_URL,
    SMN_TOPIC,
    TOPIC,
    Certificates,
    make_keys,
    sign,
    sns_notification,
)
from tests.support.sns import certificate as _certificate
from trigger_service.errors import InvalidSignature, TopicNotAllowed
from trigger_service.topics import SMN, SNS, CertificateCache, TopicDeliveries
from trigger_service.topics.hosts import SNS_POLICY

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return make_keys()


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
    signed = sign(SMN, message, keys["k"], "sha256")
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
