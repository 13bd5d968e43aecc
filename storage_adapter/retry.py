"""Retry policy for failures botocore does not retry: errors in the middle of a body.

botocore's ``standard`` mode retries 5xx and throttling before a response is returned; a
connection reset or a read timeout while the body streams surfaces later, in our read. Those
are retried here, for the one range or part concerned, with bounded attempts and exponential
backoff with jitter. Client errors (403/404/412...) are never retried here.
"""

from __future__ import annotations

import http.client
import logging
import socket
from dataclasses import dataclass

import anyio
from botocore import exceptions as botocore_errors
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from urllib3 import exceptions as urllib3_errors

from storage_adapter.errors import TransientStorageError

logger = logging.getLogger(__name__)


class ShortRead(Exception):
    """A body that ended before the length the server announced."""


#: Errors raised while a response body streams, or while a request is sent, that a fresh
#: attempt of the same request may not meet.
RETRYABLE_TRANSFER_ERRORS: tuple[type[BaseException], ...] = (
    ShortRead,
    TransientStorageError,
    botocore_errors.IncompleteReadError,
    botocore_errors.ReadTimeoutError,
    botocore_errors.ResponseStreamingError,
    botocore_errors.ConnectionClosedError,
    botocore_errors.EndpointConnectionError,
    botocore_errors.ConnectTimeoutError,
    urllib3_errors.ProtocolError,
    urllib3_errors.ReadTimeoutError,
    http.client.IncompleteRead,
    ConnectionError,
    socket.timeout,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter."""

    attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0

    def retrying(self) -> AsyncRetrying:
        """A fresh tenacity controller for one operation."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_random_exponential(multiplier=self.initial_backoff, max=self.max_backoff),
            retry=retry_if_exception_type(RETRYABLE_TRANSFER_ERRORS),
            sleep=anyio.sleep,
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )
