"""A fault-injecting HTTP proxy for tests: sits on loopback in front of the moto server.

Each request is forwarded unless the plan's ``decide`` returns a :class:`Fault`: an error
status, a connection reset in the middle of the response body, a response lost (or held)
after the server acted on the request, or a delay.

:class:`SeededFaults` is a ready-made ``decide``: it fails a share of the requests, chosen
from a seed and each request's identity (operation, key, range, how many times it was seen),
so the same requests fail whatever order threads send them in.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of forwarding it faithfully."""

    status: int | None = None
    #: The S3 error code in the body of a ``status`` answer.
    error_code: str = "InternalError"
    reset_after_bytes: int | None = None
    delay_seconds: float = 0.0
    #: Request headers removed before forwarding (e.g. ``("Range",)``: the server answers 200).
    strip_headers: tuple[str, ...] = ()
    #: Forward the request, then reset the connection before any byte of the answer: the
    #: server acted on the request but the client never learns the outcome.
    drop_response: bool = False
    #: Forward the request, then hold the answer this long: the server has acted, the client
    #: does not know yet (a window for a test to crash the client in).
    hold_response_seconds: float = 0.0


@dataclass(frozen=True)
class Request:
    """What ``decide`` sees of a request."""

    method: str
    path: str
    headers: dict[str, str]
    number: int

    @property
    def operation(self) -> str:
        """The S3 (or SQS) operation of this request, e.g. ``CompleteMultipartUpload``."""
        return s3_operation(self.method, self.path, self.headers)

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (a name without ``=`` maps to ``""``)."""
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))


Decide = Callable[[Request], Fault | None]


@dataclass
class FaultLog:
    """Counts of what the proxy did."""

    requests: int = 0
    injected: list[tuple[str, str, Fault]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Requests seen, by operation.
    operations: Counter[str] = field(default_factory=Counter)
    #: Connections that ended with an error on the proxy's side (client or upstream gone).
    connection_errors: int = 0

    def injected_by_operation(self) -> Counter[str]:
        """How many faults each operation received."""
        with self.lock:
            return Counter(s3_operation(method, path, {}) for method, path, _ in self.injected)


def s3_operation(method: str, path: str, headers: dict[str, str]) -> str:
    """The S3 operation a path-style request performs (SQS requests: ``sqs:<Action>``)."""
    target = headers.get("X-Amz-Target") or headers.get("x-amz-target")
    if target and target.startswith("AmazonSQS."):
        return "sqs:" + target.removeprefix("AmazonSQS.")
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    bucket, _, key = parts.path.lstrip("/").partition("/")
    if not bucket:
        return f"{method}:service"
    if not key:
        if method == "GET" and "uploads" in query:
            return "ListMultipartUploads"
        if method == "GET" and "versions" in query:
            return "ListObjectVersions"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return f"{method}:bucket"
    if method == "HEAD":
        return "HeadObject"
    if method == "GET":
        return "ListParts" if "uploadId" in query else "GetObject"
    if method == "PUT":
        return "UploadPart" if "uploadId" in query else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        return "POST:object"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return f"{method}:object"


def request_identity(request: Request) -> str:
    """What identifies a request across runs: operation, key, query, range.

    The bucket (tests make a new one with a random name each time) and upload ids (random
    too) are left out, so the same plan fails the same requests in every run.
    """
    parts = urlsplit(request.path)
    _bucket, _, key = parts.path.lstrip("/").partition("/")
    query = sorted(
        (name, "" if name == "uploadId" else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    range_header = request.headers.get("Range") or request.headers.get("range") or ""
    return "|".join([request.operation, key, repr(query), range_header])


@dataclass
class SeededFaults:
    """A ``decide`` failing about ``rate`` of the requests ``applies`` selects, reproducibly.

    The choice of a request (and of its fault among ``faults``, by weight) is a hash of the
    seed, the request's identity and how many times that identity was seen before, so a retry
    of a failed request is a new draw and the outcome does not depend on thread scheduling.
    """

    seed: int
    rate: float
    faults: Sequence[tuple[float, Fault]]
    applies: Callable[[Request], bool] = lambda request: True
    #: Whether a fault may hit a request; by default a mid-body reset hits only GETs (the
    #: answers with a body), so it never turns into a lost answer to a write.
    eligible: Callable[[Request, Fault], bool] = lambda request, fault: (
        fault.reset_after_bytes is None or request.method == "GET"
    )
    _seen: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if not self.faults or any(weight <= 0 for weight, _ in self.faults):
            raise ValueError("faults needs at least one (positive weight, Fault) pair")

    def __call__(self, request: Request) -> Fault | None:
        if not self.applies(request):
            return None
        identity = request_identity(request)
        with self._lock:
            occurrence = self._seen[identity]
            self._seen[identity] += 1
        draw = self._uniform(identity, occurrence, "fail")
        if draw >= self.rate:
            return None
        choices = [(w, fault) for w, fault in self.faults if self.eligible(request, fault)]
        if not choices:
            return None
        pick = self._uniform(identity, occurrence, "kind") * sum(w for w, _ in choices)
        for weight, fault in choices:
            pick -= weight
            if pick < 0:
                return fault
        return choices[-1][1]

    def _uniform(self, identity: str, occurrence: int, purpose: str) -> float:
        material = f"{self.seed}|{purpose}|{occurrence}|{identity}".encode()
        value = int.from_bytes(hashlib.sha256(material).digest()[:8], "big")
        return value / 2**64


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, dict(self.headers.items()), 0)
        with self.server.log.lock:
            self.server.log.requests += 1
            number = self.server.log.requests
            self.server.log.operations[request.operation] += 1
        request = Request(self.command, self.path, request.headers, number)
        fault = self.server.decide(request)
        if fault is not None:
            with self.server.log.lock:
                self.server.log.injected.append((self.command, self.path, fault))
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.status is not None:
                payload = (
                    "<?xml version='1.0' encoding='UTF-8'?><Error>"
                    f"<Code>{fault.error_code}</Code><Message>injected fault</Message></Error>"
                ).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                return
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port)
        dropped = {"connection", *(h.lower() for h in (fault.strip_headers if fault else ()))}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        if fault is not None and fault.hold_response_seconds:
            time.sleep(fault.hold_response_seconds)
        if fault is not None and fault.drop_response:
            self._reset()
            return
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(name, value)
        announced = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", announced or str(len(data)))
        self.end_headers()
        if fault is not None and fault.reset_after_bytes is not None and self.command != "HEAD":
            self.wfile.write(data[: fault.reset_after_bytes])
            self.wfile.flush()
            self._reset()
            return
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy  # noqa: N815


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, decide: Decide) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.decide = decide
        self.log = FaultLog()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Count connections broken by a reset instead of printing their tracebacks."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError | http.client.HTTPException):
            with self.log.lock:
                self.log.connection_errors += 1
            return
        super().handle_error(request, client_address)


@contextmanager
def fault_proxy(upstream: str, decide: Decide) -> Iterator[tuple[str, FaultLog]]:
    """Run a proxy to ``upstream`` on a free loopback port; yields its URL and its log."""
    server = _ProxyServer(upstream, decide)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.log
    finally:
        server.shutdown()
        server.server_close()
