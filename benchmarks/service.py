"""``bucketstream serve`` in its own process, against the benchmark's moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.baselines import Marks, compress_params, watermark_params
from benchmarks.moto_server import set_credentials, stop_process
from trigger_service.cli.embedded import free_port

PHOTOS = "photos"
BYTES = "bytes"


def service_workflows(bucket: str, marks: Marks) -> dict[str, Any]:
    """The image workflow (``in/``) and a passthrough byte workflow (``big/``)."""
    return {
        "workflows": {
            PHOTOS: {
                "trigger": {"bucket": bucket, "prefix": "in/"},
                "steps": [{"compress": compress_params()}, {"watermark": watermark_params(marks)}],
                "output": {"bucket": bucket, "key": "processed/{stem}.{ext}"},
                "timeout_seconds": 600,
            },
            BYTES: {
                "trigger": {"bucket": bucket, "prefix": "big/"},
                "steps": ["passthrough"],
                "output": {"bucket": bucket, "key": "copies/{name}"},
                "timeout_seconds": 3600,
            },
        }
    }


class ServiceProcess:
    """The service listening on a free loopback port; ``close`` stops it."""

    def __init__(
        self, workdir: Path, endpoint: str, bucket: str, marks: Marks, *, concurrency: int
    ) -> None:
        self.workdir = workdir
        self.endpoint = endpoint
        self.bucket = bucket
        self.marks = marks
        self.concurrency = concurrency
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        """Write the workflow file, start ``bucketstream serve`` and wait for ``/healthz``."""
        config = self.workdir / "service-workflows.json"
        config.write_text(json.dumps(service_workflows(self.bucket, self.marks)))
        command = [
            sys.executable, "-c", "from trigger_service.cli.commands import main; main()", "serve",
            "--config", str(config), "--host", "127.0.0.1", "--port", str(self.port),
            "--endpoint-url", self.endpoint, "--no-embedded",
            "--concurrency", str(self.concurrency),
            "--store", str(self.workdir / f"service-{self.port}.db"),
        ]  # fmt: skip
        env = set_credentials(dict(os.environ))
        log = (self.workdir / "service.log").open("wb")
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                tail = (self.workdir / "service.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the service exited: {tail}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("the service did not answer /healthz in time")
            time.sleep(0.2)

    @property
    def pid(self) -> int | None:
        """The service's process id while it runs."""
        return None if self._process is None else self._process.pid

    def close(self) -> None:
        """Stop the service (only the process this object started)."""
        process, self._process = self._process, None
        stop_process(process, timeout=15)
