"""Slow HTTP clients over real sockets: a request whose body stalls or trickles.

:class:`SlowUpload` sends a request's head and the first bytes of a long body, then sends
nothing more (or one byte every ``trickle`` seconds) until the server answers; the answer's
status line, headers and body are parsed as they come.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    """A parsed HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


def read_answer(sock: socket.socket) -> Answer:
    """Read one answer (Content-Length framed, or until the connection closes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"the connection closed before an answer: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while length < 0 or len(body) < length:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        body += chunk
    return Answer(status, headers, body if length < 0 else body[:length])


@dataclass
class SlowUpload:
    """A POST with a ``declared``-byte body of which only ``first`` bytes are sent at once."""

    url: str
    path: str
    declared: int = 1_000_000
    first: int = 16
    #: Seconds between two more single bytes; None sends nothing more.
    trickle: float | None = None
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def open(self) -> SlowUpload:
        """Connect, send the head and the first bytes (and start trickling)."""
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.sock = socket.create_connection((host, port), timeout=120)
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: {self.content_type}\r\nContent-Length: {self.declared}\r\n"
            f"{extra}\r\n"
        )
        self.sock.sendall(head.encode("latin-1") + b"x" * self.first)
        if self.trickle is not None:
            threading.Thread(target=self._trickle, daemon=True).start()
        return self

    def _trickle(self) -> None:
        assert self.sock is not None and self.trickle is not None
        while not self._stop.wait(self.trickle):
            try:
                self.sock.send(b"x")
            except OSError:
                return

    def answer(self, timeout: float = 120) -> Answer:
        """Wait for the server's answer (the body left unsent)."""
        assert self.sock is not None
        self.sock.settimeout(timeout)
        try:
            return read_answer(self.sock)
        finally:
            self.close()

    def close(self) -> None:
        """Stop trickling and close the socket."""
        self._stop.set()
        if self.sock is not None:
            self.sock.close()
