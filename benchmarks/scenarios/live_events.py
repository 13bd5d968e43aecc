"""Issue 13: how soon a finished execution reaches Server-Sent Events watchers, 1 vs many.

``watchers`` clients follow ``GET /executions/stream`` while executions of the byte workflow
run; for each watcher and execution, the delay is the time its ``succeeded`` event arrived
minus the record's ``finished_at`` (one clock: the service runs on this machine). One watcher
and many are measured side by side in the same run, so their ratio shows what fan-out costs.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

import httpx

from benchmarks.context import Context, entry
from benchmarks.objects import put_generated
from benchmarks.service import BYTES, ServiceProcess
from benchmarks.stats import MiB, goal, summary

DELAY_GOAL_SECONDS = 1.0


class Watcher(threading.Thread):
    """One SSE client of ``/executions/stream``, recording when each final record arrived."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.arrived: dict[str, tuple[float, str]] = {}
        self.progress: dict[str, int] = {}
        self.open = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with httpx.stream("GET", f"{self.url}/executions/stream", timeout=None) as response:
                self.open.set()
                for line in response.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("data:") and line != "data: {}":
                        self._record(json.loads(line[5:]))
        except httpx.HTTPError:
            return  # the service stopped (end of the benchmark)

    def _record(self, record: dict[str, Any]) -> None:
        self.progress[record["id"]] = self.progress.get(record["id"], 0) + 1
        if record["status"] == "succeeded":
            self.arrived.setdefault(record["id"], (time.time(), record["finished_at"]))


def _round(service: ServiceProcess, keys: list[str], watchers: int) -> dict[str, Any]:
    clients = [Watcher(service.url) for _ in range(watchers)]
    for client in clients:
        client.start()
        client.open.wait(30)
    time.sleep(0.5)  # every subscription registered
    ids = []
    for key in keys:
        answer = httpx.post(
            f"{service.url}/workflows/{BYTES}/executions",
            json={"bucket": service.bucket, "key": key},
            timeout=30,
        )
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    deadline = time.monotonic() + 300
    while any(len(c.arrived) < len(ids) for c in clients) and time.monotonic() < deadline:
        time.sleep(0.1)
    for client in clients:
        client.stop.set()
    delays = [
        arrived - datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp()
        for client in clients
        for arrived, finished in client.arrived.values()
    ]
    events = [count for client in clients for count in client.progress.values()]
    return {
        "watchers": watchers,
        "executions": len(ids),
        "delivered": sum(len(c.arrived) for c in clients),
        "expected": len(ids) * watchers,
        "delay_seconds": summary(delays),
        "events_per_execution": summary([float(e) for e in events]),
    }


def run(ctx: Context) -> dict[str, Any]:
    """One round with a single watcher, one with many, same executions' size."""
    executions: int = ctx.pick(2, 8, 20)
    many: int = ctx.pick(3, 20, 50)
    size: int = ctx.pick(1 * MiB, 16 * MiB, 64 * MiB)
    service = ctx.service()
    client = ctx.client()
    rounds = []
    for label, watchers in (("one", 1), ("many", many)):
        keys = [f"big/live-{label}-{index}.bin" for index in range(executions)]
        for key in keys:
            put_generated(client, service.bucket, key, size)
        ctx.log(f"live_events: {executions} executions, {watchers} watcher(s)")
        try:
            rounds.append(_round(service, keys, watchers))
        finally:
            for key in keys:
                client.delete_object(Bucket=service.bucket, Key=key)
                client.delete_object(Bucket=service.bucket, Key=f"copies/{key.split('/')[-1]}")
    one, crowd = rounds
    median_one = one["delay_seconds"]["median"]
    median_many = crowd["delay_seconds"]["median"]
    return entry(
        "live_events",
        issue="13",
        description=(
            "delay from an execution's finished_at to its succeeded event on "
            "GET /executions/stream, with one watcher and with many, in one run"
        ),
        parameters={"executions": executions, "watchers": many, "object_bytes": size},
        runs=rounds,
        metrics={"one": one, "many": crowd},
        ratios={
            "many_over_one_median_delay": (
                median_many / median_one if median_one and median_many is not None else None
            )
        },
        goals=[
            goal("many.delay_seconds.median", median_many, "<=", DELAY_GOAL_SECONDS, "s"),
            goal(
                "many.delivered / expected",
                crowd["delivered"] / crowd["expected"],
                ">=",
                1.0,
            ),
        ],
        notes=[
            "the feed polls the store every 0.25 s and running executions save progress every "
            "0.25 s, so a delay around 0.1-0.3 s is the design's own latency"
        ],
    )
