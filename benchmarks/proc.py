"""Parent side of measured jobs: run one in a fresh subprocess and read back its numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.job import MARKER
from benchmarks.moto_server import set_credentials
from benchmarks.stats import MB


class JobFailed(RuntimeError):
    """A measured job exited badly or printed no result."""


@dataclass(frozen=True)
class JobResult:
    """What a job reported: its own numbers plus its process's peak RSS and CPU time."""

    data: dict[str, Any]

    @property
    def seconds(self) -> float:
        """The measured region's wall time, as the job reports it."""
        return float(self.data["seconds"])

    @property
    def peak_rss_mb(self) -> float:
        """Peak RSS of the job's process in MB (10^6 bytes)."""
        return float(self.data["process"]["peak_rss_bytes"]) / MB

    def get(self, key: str, default: Any = None) -> Any:
        """A value the job reported."""
        return self.data.get(key, default)


def run_job(
    target: str,
    params: dict[str, Any],
    *,
    timeout: float = 900.0,
    env: dict[str, str] | None = None,
    server_pid: int | None = None,
) -> JobResult:
    """Run ``target(params)`` in ``python -m benchmarks.job`` and return its result.

    With ``server_pid``, the CPU seconds that process spent meanwhile are added to the result
    as ``server_cpu_seconds`` (the storage server's share of the work).
    """
    server_cpu = cpu_seconds(server_pid)
    spec = json.dumps({"target": target, "params": params})
    child_env = set_credentials(dict(os.environ))
    child_env.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.job", spec],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env,
        cwd=Path.cwd(),
        check=False,
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(MARKER):
            if completed.returncode != 0:
                break
            data = json.loads(line[len(MARKER) :])
            after = cpu_seconds(server_pid)
            if server_cpu is not None and after is not None:
                data["server_cpu_seconds"] = round(after - server_cpu, 3)
            return JobResult(data)
    tail = (completed.stderr or completed.stdout)[-2000:]
    raise JobFailed(f"job {target} exited with {completed.returncode}: {tail}")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds process ``pid`` has used so far (None when unknown)."""
    if pid is None:
        return None
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
    except Exception:
        return None
    return float(times.user + times.system)
