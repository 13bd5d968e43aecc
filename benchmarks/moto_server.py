"""A moto S3 server in its own process, so that its memory never counts as the pipeline's.

Run as a module (``python -m benchmarks.moto_server --port N``) it starts moto's server with
one change: a GET with a single ``Range: bytes=A-B`` reads only that range from the stored
object. Stock moto (5.x) reads and copies the *whole* object for every ranged GET and then
slices it, so each 8 MiB range of a 1 GiB object costs a 1 GiB read (about 1.5 s here) and a
ranged copy becomes quadratic in the object size. Real S3 serves a range in time proportional
to the range; the change applies equally to the pipeline and to boto3's transfer manager,
which both read with ranged GETs. ``--stock`` runs moto unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trigger_service.cli.embedded import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}
REGION = "us-east-1"
#: moto's CompleteMultipartUpload joins the parts in Python: about 75 s for 4 GiB here, past
#: botocore's default 60 s read timeout (whose retry then fails with NoSuchUpload). Every
#: client of the benchmark, the pipeline's included, waits this long instead.
READ_TIMEOUT = 900.0
RANGE_PATCH = (
    "ranged GET reads only the requested range (stock moto reads the whole object per range)"
)


def set_credentials(env: dict[str, str] | None = None) -> dict[str, str]:
    """Dummy credentials for moto in ``env`` (``os.environ`` by default); returns it."""
    target: Any = os.environ if env is None else env
    for name, value in CREDENTIALS.items():
        target[name] = value
    target.pop("AWS_PROFILE", None)
    target.pop("AWS_ENDPOINT_URL", None)
    return dict(target)


def s3_client(endpoint: str) -> S3Client:
    """A plain boto3 client for ``endpoint`` (default transfer settings, path addressing).

    boto3 is imported here: measured jobs that never talk to S3 import this module too, and
    should not carry boto3's ~20 MB in their peak RSS.
    """
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=Config(s3={"addressing_style": "path"}, read_timeout=READ_TIMEOUT),
    )


def stop_process(process: subprocess.Popen[Any] | None, *, timeout: float) -> None:
    """Terminate ``process`` and wait; kill it if it outlives ``timeout`` seconds."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MotoServer:
    """``python -m benchmarks.moto_server`` on a free loopback port, stopped on ``close``."""

    def __init__(self, workdir: Path, *, stock: bool = False) -> None:
        self.workdir = workdir
        self.stock = stock
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> MotoServer:
        """Start the server and wait until it answers."""
        storage = self.workdir / "moto-tmp"
        storage.mkdir(parents=True, exist_ok=True)
        env = set_credentials(dict(os.environ))
        env["TMPDIR"] = str(storage)
        command = [sys.executable, "-m", "benchmarks.moto_server", "--port", str(self.port)]
        if self.stock:
            command.append("--stock")
        log = (self.workdir / "moto.log").open("wb")
        self._process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=Path.cwd()
        )
        log.close()
        client = s3_client(self.endpoint)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited; see {self.workdir / 'moto.log'}")
            try:
                client.list_buckets()
                return self
            except Exception:
                if time.monotonic() > deadline:
                    self.close()
                    raise
                time.sleep(0.1)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return None if self._process is None else self._process.pid

    def describe(self) -> dict[str, Any]:
        """What the JSON says about the server."""
        import moto

        return {
            "kind": f"moto {moto.__version__} server in its own process (werkzeug, threaded)",
            "endpoint": "127.0.0.1 loopback",
            "change": "none (stock)" if self.stock else RANGE_PATCH,
        }

    def close(self) -> None:
        """Stop the server (only the process this object started)."""
        process, self._process = self._process, None
        stop_process(process, timeout=10)

    def __enter__(self) -> MotoServer:
        return self if self._process is not None else self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


class _Ranged:
    """Stands in for an object's bytes during one ranged GET: a slice reads only the slice."""

    def __init__(self, key: Any) -> None:
        self._key = key

    def __len__(self) -> int:
        return int(self._key.size)

    def __getitem__(self, selected: slice) -> bytes:
        start, stop, _ = selected.indices(len(self))
        with self._key.lock:
            buffer = self._key._value_buffer
            buffer.seek(start)
            data: bytes = buffer.read(max(stop - start, 0))
            return data

    def whole(self) -> bytes:
        """Every byte (when moto ends up answering without the range after all)."""
        return self[0 : len(self)]


def patch_moto_ranges() -> None:
    """Make a single-range GET read only its range (see the module docstring)."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    local = threading.local()
    value_property: Any = FakeKey.__dict__["value"]
    original_get = value_property.fget
    assert original_get is not None

    def value(self: Any) -> Any:
        if getattr(local, "ranged", False):
            return _Ranged(self)
        return original_get(self)

    FakeKey.value = property(value, value_property.fset)  # type: ignore[assignment, method-assign]
    original_key_response = S3Response.key_response

    def key_response(self: Any, request: Any, full_url: str, headers: dict[str, Any]) -> Any:
        spec = request.headers.get("range", "") or ""
        local.ranged = (
            request.method == "GET"
            and spec.startswith("bytes=")
            and "," not in spec
            and not spec.startswith("bytes=-")
        )
        try:
            result = original_key_response(self, request, full_url, headers)
        finally:
            local.ranged = False
        if isinstance(result, tuple) and len(result) == 3 and isinstance(result[2], _Ranged):
            return result[0], result[1], result[2].whole()
        return result

    S3Response.key_response = key_response  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the server process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stock", action="store_true", help="run moto unchanged")
    args = parser.parse_args(argv)
    if not args.stock:
        patch_moto_ranges()
    from moto.server import main as moto_main

    with contextlib.suppress(KeyboardInterrupt):
        moto_main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
