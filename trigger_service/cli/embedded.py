"""An embedded S3 + SQS (a moto server on a free loopback port) for ``serve`` and ``demo``.

:func:`embedded_storage` starts the server, creates the buckets, one queue, and the
bucket → queue ``ObjectCreated:*`` notification of the trigger buckets, and yields an
:class:`EmbeddedStorage` with the endpoint and the queue URL. Everything lives in memory and
disappears when the context exits.

While the context is open the process's ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` are
set to :data:`EMBEDDED_CREDENTIALS` (and ``AWS_PROFILE``/``AWS_SESSION_TOKEN`` removed), so
real credentials are never sent to the embedded server; the previous values come back at exit.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from storage_adapter import StorageSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

EMBEDDED_REGION = "us-east-1"
#: Access key and secret of the embedded server (any value works; these are used).
EMBEDDED_CREDENTIALS = ("bucketstream", "bucketstream")
DEFAULT_QUEUE_NAME = "bucketstream-events"

_CREDENTIAL_VARIABLES = {
    "AWS_ACCESS_KEY_ID": EMBEDDED_CREDENTIALS[0],
    "AWS_SECRET_ACCESS_KEY": EMBEDDED_CREDENTIALS[1],
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server started next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class EmbeddedStorage:
    """A running embedded S3 + SQS."""

    endpoint_url: str
    queue_url: str
    region: str
    buckets: tuple[str, ...]

    def storage_settings(self, base: StorageSettings | None = None) -> StorageSettings:
        """``base`` (or defaults) pointed at the embedded server, path-style, no profile."""
        return replace(
            base or StorageSettings(),
            endpoint_url=self.endpoint_url,
            region=self.region,
            profile=None,
            addressing_style="path",
        )

    def s3_client(self) -> S3Client:
        """A boto3 S3 client for the embedded server."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=EMBEDDED_CREDENTIALS[0],
            aws_secret_access_key=EMBEDDED_CREDENTIALS[1],
            config=Config(s3={"addressing_style": "path"}),
        )

    def sqs_client(self) -> SQSClient:
        """A boto3 SQS client for the embedded server."""
        import boto3

        return boto3.client(
            "sqs",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=EMBEDDED_CREDENTIALS[0],
            aws_secret_access_key=EMBEDDED_CREDENTIALS[1],
        )


@contextmanager
def embedded_credentials() -> Iterator[None]:
    """Use :data:`EMBEDDED_CREDENTIALS` in this process for the duration of the context."""
    saved = {name: os.environ.get(name) for name in _CREDENTIAL_VARIABLES}
    try:
        for name, value in _CREDENTIAL_VARIABLES.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def embedded_storage(
    buckets: Iterable[str],
    *,
    notify: Iterable[str] | None = None,
    queue_name: str = DEFAULT_QUEUE_NAME,
    port: int = 0,
) -> Iterator[EmbeddedStorage]:
    """Start an embedded S3 + SQS with ``buckets`` and a queue notified by ``notify``.

    ``notify`` defaults to every bucket; ``port=0`` picks a free loopback port.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    names = tuple(dict.fromkeys(buckets))
    notified = tuple(dict.fromkeys(names if notify is None else notify))
    with embedded_credentials():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            host, bound = server.get_host_and_port()
            storage = EmbeddedStorage(
                endpoint_url=f"http://{host}:{bound}",
                queue_url="",
                region=EMBEDDED_REGION,
                buckets=names,
            )
            storage = _provision(storage, queue_name, notified)
            yield storage
        finally:
            server.stop()


def _provision(
    storage: EmbeddedStorage, queue_name: str, notify: tuple[str, ...]
) -> EmbeddedStorage:
    s3 = storage.s3_client()
    sqs = storage.sqs_client()
    for bucket in storage.buckets:
        s3.create_bucket(Bucket=bucket)
    queue_url, _ = queue_for_buckets(s3, sqs, queue_name, notify)
    return replace(storage, queue_url=queue_url)


def queue_for_buckets(
    s3: S3Client, sqs: SQSClient, queue_name: str, buckets: Iterable[str]
) -> tuple[str, str]:
    """Create an SQS queue and send ``buckets``' ``ObjectCreated:*`` events to it.

    Returns the queue's URL and ARN. Each bucket's notification configuration is replaced.
    """
    queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for bucket in buckets:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
            },
        )
    return queue_url, arn
