"""``POST /events/sns/{secret}`` end to end: signed messages start executions on moto, a
SubscriptionConfirmation is confirmed against a loopback server, refusals are typed."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.service import archive_workflows, config, running, s3_notification, wait_final
from tests.support.serving import ServeProcess
from tests.support.sns import (
    CERT_URL,
    NOW,
    TOPIC,
    Certificates,
    certificate,
    sign,
    sns_notification,
)
from tests.support.waiting import wait_for
from trigger_service.topics import SNS, HostPolicy, TopicDeliveries

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.anyio

SECRET = "path-secret-7f3a"


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    return {n: rsa.generate_private_key(public_exponent=65537, key_size=2048) for n in "ck"}


@pytest.fixture
def confirm_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server standing in for SNS's SubscribeURL; records the paths asked."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = b"<ConfirmSubscriptionResult><SubscriptionArn>arn:sub:1</SubscriptionArn>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _topics(keys: dict[str, Any]) -> TopicDeliveries:
    loopback = HostPolicy(re.compile(r"127\.0\.0\.1"), frozenset({"http"}), True)
    return TopicDeliveries(
        path_secrets=(SECRET,),
        topics=frozenset({TOPIC}),
        certificates=Certificates({CERT_URL: certificate(keys["k"], keys["c"])}),
        providers={"sns": replace(SNS, subscribe_hosts=loopback)},
        clock=lambda: NOW,
    )


@pytest.mark.parametrize("version", ["1", "2"])
async def test_signed_notification_starts_an_execution(
    s3: S3Client, bucket: str, moto_endpoint: str, keys: dict[str, Any], version: str
) -> None:
    key = "incoming/from-sns.txt"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"sns " * 500)["ETag"].strip('"')
    inner = json.dumps(s3_notification(bucket, key, etag=etag))
    message = sns_notification(keys["k"], version)
    message = sign(
        SNS, {**message, "Message": inner}, keys["k"], "sha1" if version == "1" else "sha256"
    )
    cfg = config(moto_endpoint, archive_workflows(bucket), topics=_topics(keys))
    async with running(cfg) as (_, client):
        answer = await client.post(
            f"/events/sns/{SECRET}",
            content=json.dumps(message),
            headers={"content-type": "text/plain"},
        )
        assert answer.status_code == 202, answer.text
        (record,) = answer.json()["executions"]
        assert record["source"] == "sns"
        final = await wait_final(client, record["id"])
        assert final["status"] == "succeeded"
        tampered = {**message, "Message": inner.replace(key, "incoming/other.txt")}
        refused = await client.post(f"/events/sns/{SECRET}", content=json.dumps(tampered))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "InvalidSignature"


async def test_wrong_secret_and_wrong_topic_are_refused(
    bucket: str, moto_endpoint: str, keys: dict[str, Any]
) -> None:
    cfg = config(moto_endpoint, archive_workflows(bucket), topics=_topics(keys))
    message = sns_notification(keys["k"])
    async with running(cfg) as (_, client):
        wrong = await client.post("/events/sns/not-the-secret", content=json.dumps(message))
        assert wrong.status_code == 404
        assert "not-the-secret" not in wrong.text
        other = sns_notification(keys["k"], TopicArn="arn:aws:sns:us-east-1:1:other")
        answer = await client.post(f"/events/sns/{SECRET}", content=json.dumps(other))
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "TopicNotAllowed"


async def test_subscription_confirmation_is_confirmed_on_allowed_hosts_only(
    bucket: str, moto_endpoint: str, keys: dict[str, Any], confirm_server: tuple[str, list[str]]
) -> None:
    base, seen = confirm_server

    def confirmation(url: str) -> dict[str, Any]:
        message = {
            "Type": "SubscriptionConfirmation",
            "MessageId": "c-1",
            "Token": "tok",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe",
            "SubscribeURL": url,
            "Timestamp": "2026-06-01T00:00:00.000Z",
            "SignatureVersion": "2",
            "SigningCertURL": CERT_URL,
        }
        return sign(SNS, message, keys["k"], "sha256")

    cfg = config(moto_endpoint, archive_workflows(bucket), topics=_topics(keys))
    async with running(cfg) as (_, client):
        good = confirmation(f"{base}/?Action=ConfirmSubscription&Token=tok")
        answer = await client.post(f"/events/sns/{SECRET}", content=json.dumps(good))
        assert answer.status_code == 200, answer.text
        assert answer.json()["confirmed"] == {"topic": TOPIC, "subscription": "arn:sub:1"}
        assert seen == ["/?Action=ConfirmSubscription&Token=tok"]
        evil = confirmation("http://evil.example/?Action=ConfirmSubscription")
        refused = await client.post(f"/events/sns/{SECRET}", content=json.dumps(evil))
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "InvalidSignature"
        assert len(seen) == 1


def test_serve_keeps_the_path_secret_out_of_its_log(
    tmp_path: Path, moto_endpoint: str, bucket: str
) -> None:
    config_file = tmp_path / "w.yaml"
    config_file.write_text(
        f"workflows:\n  a:\n    trigger: {{bucket: {bucket}, prefix: in/}}\n"
        f"    steps: [gzip]\n    output: {{bucket: {bucket}, key: 'out/{{key}}.gz'}}\n"
    )
    service = ServeProcess(
        config=config_file,
        endpoint=moto_endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        env={"BUCKETSTREAM_SNS_PATH_SECRETS": SECRET, "BUCKETSTREAM_SNS_TOPICS": TOPIC},
    )
    try:
        service.start()
        unsigned = {"Type": "Notification", "TopicArn": TOPIC, "Message": "{}"}
        right = httpx.post(f"{service.url}/events/sns/{SECRET}", json=unsigned, timeout=10)
        assert right.status_code == 403
        assert right.json()["error"]["code"] == "InvalidSignature"
        wrong = httpx.post(f"{service.url}/events/sns/guess-{SECRET}x", json=unsigned, timeout=10)
        assert wrong.status_code == 404
        wait_for(lambda: service.log().count("/events/sns/") >= 2, within=10)
    finally:
        service.kill()
    log = service.log()
    assert "/events/sns/[secret]" in log
    assert SECRET not in log
