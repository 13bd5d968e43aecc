"""Event → committed output, phase by phase, from an execution record's own timestamps.

:func:`milestones` reads a public execution record (the JSON of ``GET /executions/{id}``) and
says when each step of the way was reached, in seconds after the event was sent:

``created`` the record made (after the intake's pinning HEAD, before its insert) ·
``started`` the engine took it · ``input_pinned`` the read stage began (a pinned input is not
HEADed again) · ``first_range_read`` the first ranged GET's bytes were handed on · ``input_read``
the last one · ``decoded`` · ``compressed`` · ``watermarked`` · ``encoded`` (each step's last
frame sent) · ``first_part_uploaded`` (multipart outputs only) · ``output_written`` every
byte handed to the writer · ``committed`` the output object exists (PutObject or
CompleteMultipartUpload answered; the record's ``finished_at``).

:class:`ServeClient` sends one notification to ``bucketstream serve`` and follows the record
on one kept-alive connection until it is final; ``accepted`` (the ``202``) and ``seen`` (the
client read the final record) come from the client's clock, on the same machine.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from benchmarks.image_jobs import s3_event
from benchmarks.proc import cpu_seconds
from benchmarks.service import ServiceProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Milestones in the order an execution reaches them (``accepted``, the ``202``, is not
#: among them: the executor may start the execution before or after the answer is sent).
MILESTONES = (
    "created",
    "started",
    "input_pinned",
    "first_range_read",
    "input_read",
    "decoded",
    "compressed",
    "watermarked",
    "encoded",
    "first_part_uploaded",
    "output_written",
    "committed",
    "seen",
)
#: Seconds between two reads of the record while ``serve`` runs an execution. Each read costs
#: the service ~2.5 ms of CPU (HTTP, store, JSON) and the client as much, taken from the
#: execution on two shared cores (in one interleaved A/B of 8 pairs, decode and resize took
#: ~20 % longer polling every 20 ms than every 250 ms). ``committed`` comes from the record's
#: own clock, so only ``seen`` waits for a poll.
POLL_SECONDS = 0.1
#: (milestone, stage name, stage field) read from the record's steps.
_STAGE_MILESTONES = (
    ("input_pinned", "read", "started_at"),
    ("first_range_read", "read", "first_output_at"),
    ("input_read", "read", "finished_at"),
    ("decoded", "decode", "finished_at"),
    ("compressed", "compress", "finished_at"),
    ("watermarked", "watermark", "finished_at"),
    ("encoded", "encode", "finished_at"),
    ("output_written", "write", "finished_at"),
)


def _timestamp(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def milestones(record: dict[str, Any], origin: float) -> dict[str, float | None]:
    """When ``record`` (public JSON) reached each milestone, in seconds after ``origin``."""

    def rel(value: Any) -> float | None:
        stamp = _timestamp(value)
        return None if stamp is None else round(stamp - origin, 4)

    steps = {step["name"]: step for step in record.get("steps", [])}
    found: dict[str, float | None] = {
        "created": rel(record.get("created_at")),
        "started": rel(record.get("started_at")),
    }
    for milestone, stage, field in _STAGE_MILESTONES:
        found[milestone] = rel(steps.get(stage, {}).get(field))
    write_details = steps.get("write", {}).get("details", {})
    found["first_part_uploaded"] = rel(write_details.get("first_part_uploaded_at"))
    found["committed"] = rel(record.get("finished_at"))
    return found


def phase_durations(points: dict[str, float | None]) -> dict[str, float]:
    """Seconds from each reached milestone to the next reached one (``a→b``)."""
    reached = [(name, value) for name in MILESTONES if (value := points.get(name)) is not None]
    return {f"{a}→{b}": round(tb - ta, 4) for (a, ta), (b, tb) in itertools.pairwise(reached)}


def median_milestones(runs: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    """The median time of each milestone over ``runs`` (None when no run reached it)."""
    medians: dict[str, float | None] = {}
    for name in ("accepted", *MILESTONES):
        values = [float(v) for run in runs if (v := run.get(name)) is not None]
        medians[name] = round(statistics.median(values), 4) if values else None
    return medians


class ServeClient:
    """Sends S3 notifications to a running ``serve`` and times each execution.

    With ``server_pid`` (the storage server's process), each execution also reports the CPU
    seconds the service and the server used from the event until the client saw the final
    record: on two cores, their sum over ``seen`` says how busy the machine was.
    """

    def __init__(
        self, service: ServiceProcess, client: S3Client, server_pid: int | None = None
    ) -> None:
        self.service = service
        self.client = client
        self.server_pid = server_pid
        self.http = httpx.Client(base_url=service.url, timeout=30)

    def execute(self, photo: bytes, key: str, *, timeout: float = 120) -> dict[str, Any]:
        """Upload ``photo`` to ``key``, POST its notification, wait for the final record.

        Returns ``seconds`` (event sent → output committed), the milestones and the output
        key; the input is deleted afterwards (the output is left for the caller).
        """
        bucket = self.service.bucket
        etag = self.client.put_object(Bucket=bucket, Key=key, Body=photo)["ETag"].strip('"')
        event = s3_event(bucket, key, len(photo), etag)
        cpu_before = cpu_seconds(self.service.pid), cpu_seconds(self.server_pid)
        began = time.time()
        answer = self.http.post("/events", json=event)
        accepted = time.time()
        answer.raise_for_status()
        body = answer.json()
        if body["duplicates"]:
            raise RuntimeError(f"s3://{bucket}/{key} was processed before: use a new key")
        (execution,) = body["executions"]
        deadline = time.monotonic() + timeout
        while True:
            record = self.http.get(f"/executions/{execution['id']}").json()
            if record["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
        seen = time.time()
        cpu_after = cpu_seconds(self.service.pid), cpu_seconds(self.server_pid)
        self.client.delete_object(Bucket=bucket, Key=key)
        if record["status"] != "succeeded":
            raise RuntimeError(f"serve execution did not succeed: {record.get('error')}")
        points = {"accepted": round(accepted - began, 4), **milestones(record, began)}
        points["seen"] = round(seen - began, 4)
        committed = points["committed"]
        assert committed is not None
        names = ("service", "server")
        used = {
            f"{name}_cpu_seconds": round(after - before, 3)
            for name, before, after in zip(names, cpu_before, cpu_after, strict=True)
            if before is not None and after is not None
        }
        return {
            "seconds": committed,
            "milestones": points,
            "output_key": record["output"]["key"],
            **used,
        }

    def close(self) -> None:
        """Close the HTTP connection."""
        self.http.close()
