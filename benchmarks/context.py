"""What every scenario gets: the mode, a work directory, a shared moto server, logging."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from benchmarks.baselines import Marks
from benchmarks.images import logo_png, photo_jpeg
from benchmarks.moto_server import MotoServer, s3_client
from benchmarks.objects import new_bucket
from benchmarks.service import ServiceProcess
from benchmarks.stats import all_met

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Mode = Literal["smoke", "quick", "full"]
MODES: tuple[Mode, ...] = ("smoke", "quick", "full")


@dataclass
class Context:
    """Mode, directories and the lazily started moto server of one benchmark invocation."""

    mode: Mode
    workdir: Path
    cache: Path
    stock_moto: bool = False
    #: Object sizes asked for on the command line (``--sizes``), instead of the mode's.
    sizes: list[int] = field(default_factory=list)
    #: A shaped link asked for on the command line (``--link``): bytes/s each way, latency in s.
    link: tuple[float, float] | None = None
    #: Results one scenario leaves for another (e.g. stage timelines for ``overlap``).
    shared: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _server: MotoServer | None = field(default=None, repr=False)
    _service: ServiceProcess | None = field(default=None, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)

    def pick(self, smoke: Any, quick: Any, full: Any) -> Any:
        """The value for this mode."""
        return {"smoke": smoke, "quick": quick, "full": full}[self.mode]

    @property
    def server(self) -> MotoServer:
        """The moto server (started on first use, shared by every scenario)."""
        if self._server is None:
            self.log("starting moto server")
            self._server = MotoServer(self.workdir, stock=self.stock_moto).start()
        return self._server

    @property
    def endpoint(self) -> str:
        """The moto server's URL."""
        return self.server.endpoint

    def client(self) -> S3Client:
        """A boto3 client of the moto server."""
        return s3_client(self.endpoint)

    def photo(self) -> Path:
        """The test photo: 24 MP (1.5 MP in smoke mode), JPEG quality 90."""
        width, height = self.pick((1500, 1000), (6000, 4000), (6000, 4000))
        return photo_jpeg(self.cache, width, height)

    def logo(self) -> Path:
        """The test logo (PNG with transparency)."""
        return logo_png(self.cache)

    def service(self) -> ServiceProcess:
        """``bucketstream serve`` (4 executions at once) on its own bucket, started on first use."""
        if self._service is None:
            bucket = new_bucket(self.client(), "bench-service")
            self.log("starting bucketstream serve")
            self._service = ServiceProcess(
                self.workdir, self.endpoint, bucket, Marks(), concurrency=4
            ).start()
        return self._service

    def remember(self, kind: str, item: dict[str, Any]) -> None:
        """Leave ``item`` for later scenarios under ``kind``."""
        self.shared.setdefault(kind, []).append(item)

    def server_description(self) -> dict[str, Any] | None:
        """The server's description, if one was started."""
        return None if self._server is None else self._server.describe()

    def log(self, message: str) -> None:
        """A progress line on stderr."""
        elapsed = time.monotonic() - self._started
        print(f"[bench {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the service and the server."""
        if self._service is not None:
            self._service.close()
            self._service = None
        if self._server is not None:
            self._server.close()
            self._server = None


def entry(
    name: str,
    *,
    issue: str,
    description: str,
    parameters: dict[str, Any],
    runs: list[dict[str, Any]],
    metrics: dict[str, Any],
    ratios: dict[str, Any],
    goals: list[dict[str, Any]],
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """One scenario's JSON entry."""
    return {
        "name": name,
        "issue": issue,
        "description": description,
        "parameters": parameters,
        "runs": runs,
        "metrics": metrics,
        "ratios": ratios,
        "goals": goals,
        "goal": "; ".join(g["goal"] for g in goals),
        "goal_met": all_met(goals),
        "notes": notes or [],
    }


def skipped(name: str, *, issue: str, description: str, goal: str, reason: str) -> dict[str, Any]:
    """The entry of a scenario that could not run: a reason, and no numbers."""
    return {
        "name": name,
        "issue": issue,
        "description": description,
        "goal": goal,
        "goal_met": None,
        "skipped": reason,
    }
