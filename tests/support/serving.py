"""``bucketstream serve`` as a subprocess on loopback, and the moto server's SQS clock.

:class:`ServeProcess` starts the real console script (``bucketstream serve``) with a workflow
file, an S3 endpoint, queue URLs and a SQLite store, captures everything it prints into a
log file, and can be killed with SIGKILL like a crashed host.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.waiting import wait_for
from trigger_service.cli.embedded import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
HEALTH_DEADLINE = 60.0


def bucketstream_command() -> list[str]:
    """The ``bucketstream`` console script of this environment (or the CLI module)."""
    script = Path(sys.executable).parent / "bucketstream"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from trigger_service.cli.commands import main; main()"]


@dataclass
class ServeProcess:
    """One ``bucketstream serve`` process; start it, talk to it, kill it."""

    config: Path
    endpoint: str
    store: Path
    log_path: Path
    #: A store URL (``postgresql://…``) used instead of the SQLite file ``store``.
    store_url: str | None = None
    queue_urls: Sequence[str] = ()
    concurrency: int = 4
    queue_size: int = 64
    env: dict[str, str] = field(default_factory=dict)
    global_options: Sequence[str] = ()
    extra: Sequence[str] = ()
    #: ``--host``; None leaves the option out (the default bind address).
    host: str | None = "127.0.0.1"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (appending to the log) and wait until ``/healthz`` answers."""
        command = [
            *bucketstream_command(),
            *self.global_options,
            "serve",
            "--config",
            str(self.config),
            *(("--host", self.host) if self.host is not None else ()),
            "--port",
            str(self.port),
            "--endpoint-url",
            self.endpoint,
            "--store",
            self.store_url or str(self.store),
            "--concurrency",
            str(self.concurrency),
            "--queue-size",
            str(self.queue_size),
            *[option for url in self.queue_urls for option in ("--queue-url", url)],
            *self.extra,
        ]
        environment = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPOSITORY),
            **self.env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.store.parent,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self.healthy, within=HEALTH_DEADLINE)

    def healthy(self) -> bool:
        """Whether ``/healthz`` answers 200 (fails the wait if the process died)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"bucketstream serve exited with {self.process.returncode}:\n{self.log()}"
            )
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def get(self, path: str, **params: str) -> Any:
        """GET ``path`` as JSON."""
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def executions(self, **params: str) -> list[dict[str, Any]]:
        """Every execution record (first page of up to 1000), newest first."""
        page: list[dict[str, Any]] = self.get("/executions", limit="1000", **params)["executions"]
        return page

    def kill(self) -> None:
        """SIGKILL, like a host that died; waits for the process to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def expire_visibility(queue_url: str, region: str = "us-east-1") -> int:
    """Make every in-flight message of a queue on the in-process moto server visible again.

    Stands in for waiting out the visibility timeout (60 s, not configurable from the
    command line) that a killed consumer left on the messages it had received: the moto
    server of the test session runs in this process, so its clock for those messages can be
    moved on. Returns how many messages were in flight.
    """
    from moto.sqs.models import sqs_backends

    account, name = urlsplit(queue_url).path.strip("/").split("/")
    queue = sqs_backends[account][region].get_queue(name)
    in_flight = [message for message in list(queue._messages) if not message.visible]
    for message in in_flight:
        message.change_visibility(0)
    return len(in_flight)


def describe_queue(queue_url: str, region: str = "us-east-1") -> list[dict[str, object]]:
    """Every message of a queue on the in-process moto server: receive count, visibility."""
    from moto.sqs.models import sqs_backends

    account, name = urlsplit(queue_url).path.strip("/").split("/")
    queue = sqs_backends[account][region].get_queue(name)
    return [
        {
            "id": message.id,
            "visible": message.visible,
            "received": message.approximate_receive_count,
            "body": message.body[:300],
        }
        for message in list(queue._messages)
    ]
