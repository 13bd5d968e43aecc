"""The boto3 S3 client factory, and the worker-thread gateway every call goes through.

Credentials come from boto3's normal chain (environment, ``AWS_PROFILE``, config files);
the endpoint from ``endpoint_url`` or ``AWS_ENDPOINT_URL``. botocore's ``standard`` retry
mode already retries 5xx answers and throttling; only errors in the middle of a response
body need our own retries (see :mod:`storage_adapter.retry`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio

if TYPE_CHECKING:
    from botocore.config import _S3Dict
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

ChecksumWhen = Literal["when_supported", "when_required"]
#: Whether request bodies are SHA-256 hashed into the SigV4 signature: ``auto`` is botocore's
#: choice (hashed over http://, not over https:// when a checksum header is sent); ``off``
#: sends ``UNSIGNED-PAYLOAD`` everywhere (the CRC32 checksum still covers each part when
#: checksums are ``when_supported``); ``on`` always hashes.
PayloadSigning = Literal["auto", "on", "off"]


@dataclass(frozen=True)
class StorageSettings:
    """How to reach an S3-compatible store.

    For Huawei OBS use ``endpoint_url="https://obs.<region>.myhuaweicloud.com"`` and
    ``request_checksum_calculation="when_required"`` /
    ``response_checksum_validation="when_required"``.
    """

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    max_pool_connections: int = 32
    io_concurrency: int = 16
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 5
    request_checksum_calculation: ChecksumWhen = "when_supported"
    response_checksum_validation: ChecksumWhen = "when_supported"
    #: ``off`` spares a SHA-256 pass over every part body on http:// endpoints (about 7 % of a
    #: copy's CPU on a local store); see :data:`PayloadSigning`.
    payload_signing: PayloadSigning = "auto"


def s3_options(settings: StorageSettings) -> _S3Dict:
    """botocore's ``s3`` configuration for ``settings``."""
    options: _S3Dict = {"addressing_style": settings.addressing_style}
    if settings.payload_signing != "auto":
        options["payload_signing_enabled"] = settings.payload_signing == "on"
    return options


def make_s3_client(settings: StorageSettings) -> S3Client:
    """A thread-safe boto3 S3 client configured from ``settings``.

    boto3 is imported here, not at module level: it costs ~20 MB of RSS, and a workflow run on
    local files (``bucketstream process``) never builds a client.
    """
    import boto3.session
    from botocore.config import Config

    config = Config(
        region_name=settings.region,
        retries={"mode": "standard", "max_attempts": settings.max_attempts},
        max_pool_connections=max(settings.max_pool_connections, settings.io_concurrency + 2),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        s3=s3_options(settings),
        request_checksum_calculation=settings.request_checksum_calculation,
        response_checksum_validation=settings.response_checksum_validation,
    )
    session = boto3.session.Session(profile_name=settings.profile)
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config)


class StorageIO:
    """Runs blocking boto3 calls in worker threads, at most ``io_concurrency`` at once."""

    def __init__(
        self,
        client: S3Client | None = None,
        *,
        io_concurrency: int = 16,
        settings: StorageSettings | None = None,
    ) -> None:
        """Calls go to ``client``, or to one made from ``settings`` when first needed."""
        if client is None and settings is None:
            raise TypeError("StorageIO needs a client or the settings to make one")
        self._client = client
        self._settings = settings
        self._client_lock = threading.Lock()
        self.io_concurrency = io_concurrency
        self._limiter: anyio.CapacityLimiter | None = None

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> StorageIO:
        """A gateway over a new client made from ``settings``."""
        return cls(make_s3_client(settings), io_concurrency=settings.io_concurrency)

    @classmethod
    def on_demand(cls, settings: StorageSettings) -> StorageIO:
        """A gateway whose client is made from ``settings`` when first used.

        For work that may never reach a store (``bucketstream process`` reads s3:// logos
        only): boto3 is not even imported until then.
        """
        return cls(settings=settings, io_concurrency=settings.io_concurrency)

    @property
    def client(self) -> S3Client:
        """The boto3 client (made now if this gateway was created :meth:`on_demand`)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    assert self._settings is not None
                    self._client = make_s3_client(self._settings)
        return self._client

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        """The capacity limiter shared by every call of this gateway."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.io_concurrency)
        return self._limiter

    async def call(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a worker thread under the I/O limit."""
        return await anyio.to_thread.run_sync(
            functools.partial(function, *args, **kwargs), limiter=self.limiter
        )
