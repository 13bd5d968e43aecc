"""A fault-injecting HTTP proxy for tests: sits on loopback in front of the moto server.

Each request is forwarded unless the plan's ``decide`` returns a :class:`Fault`: an error
status, a connection reset in the middle of the response body, or a delay.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Fault:
    """What to do to one request instead of forwarding it faithfully."""

    status: int | None = None
    reset_after_bytes: int | None = None
    delay_seconds: float = 0.0
    #: Request headers removed before forwarding (e.g. ``("Range",)``: the server answers 200).
    strip_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Request:
    """What ``decide`` sees of a request."""

    method: str
    path: str
    headers: dict[str, str]
    number: int


Decide = Callable[[Request], Fault | None]


@dataclass
class FaultLog:
    """Counts of what the proxy did."""

    requests: int = 0
    injected: list[tuple[str, str, Fault]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        return

    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.log.lock:
            self.server.log.requests += 1
            number = self.server.log.requests
        request = Request(self.command, self.path, dict(self.headers.items()), number)
        fault = self.server.decide(request)
        if fault is not None:
            with self.server.log.lock:
                self.server.log.injected.append((self.command, self.path, fault))
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.status is not None:
                payload = (
                    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code>"
                    b"<Message>injected fault</Message></Error>"
                )
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port)
        dropped = {"connection", *(h.lower() for h in (fault.strip_headers if fault else ()))}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
        upstream.request(self.command, self.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
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
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
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
