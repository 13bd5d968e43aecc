"""Issue 23: ordinary webhooks while hostile clients hold sync uploads open and send huge bodies.

One ``bucketstream serve`` (2 executions at once, a queue of 64, the default admission
limits but a shorter ``--body-timeout``) on a fresh bucket. Two phases of the same length,
each posting ordinary one-record S3 notifications (for objects that exist) at a steady rate
and timing every answer:

* **calm**: nothing else;
* **hostile**: meanwhile 50 slow clients each open a raw sync upload, send its head and 16
  bytes of a declared 1 MB body and then nothing, wait for the answer and start again at
  once; and one client posts 1,000-record notification bodies back to back.

Figures: webhook latency p50/p99 and refusals of each phase, the answers the hostile clients
got (``408`` / ``429`` / ``413`` counts), executions completed out of those started, and the
service's RSS (sampled every 0.1 s: peak of each phase). Goals: no ordinary event refused,
every started execution completed, hostile p99 within 1 s, RSS peak under attack within
50 MB of the calm one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.context import Context, entry
from benchmarks.moto_server import set_credentials, stop_process
from benchmarks.objects import new_bucket
from benchmarks.stats import MB, goal
from trigger_service.cli.embedded import free_port

SLOW_CLIENTS = 50
RECORDS_PER_HOSTILE_BODY = 1000
#: Ordinary notifications per second in each phase.
RATE = 8
SYNC = "/workflows/archive/sync-executions"


def _start(ctx: Context, bucket: str, body_timeout: float) -> tuple[subprocess.Popen[bytes], str]:
    config = ctx.workdir / "hostile-workflows.json"
    config.write_text(
        json.dumps(
            {
                "workflows": {
                    "archive": {
                        "trigger": {"bucket": bucket, "prefix": "incoming/"},
                        "steps": [{"gzip": {"level": 1}}],
                        "output": {"bucket": bucket, "key": "archived/{key}.gz"},
                    }
                }
            }
        )
    )
    port = free_port()
    command = [
        sys.executable, "-c", "from trigger_service.cli.commands import main; main()", "serve",
        "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
        "--endpoint-url", ctx.endpoint, "--no-embedded", "--concurrency", "2",
        "--queue-size", "64", "--store", str(ctx.workdir / f"hostile-{port}.db"),
        "--body-timeout", str(body_timeout),
    ]  # fmt: skip
    log = (ctx.workdir / "hostile-service.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=set_credentials(dict(os.environ))
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited; see {ctx.workdir / 'hostile-service.log'}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop_process(process, timeout=10)
            raise RuntimeError("the service did not answer /healthz")
        time.sleep(0.2)


def _notification(bucket: str, keys: list[str], etags: dict[str, str]) -> bytes:
    records = [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-01-01T00:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": bucket},
                "object": {"key": key, "eTag": etags.get(key, '"0"'), "size": 64},
            },
        }
        for key in keys
    ]
    return json.dumps({"Records": records}).encode()


class _RssSampler(threading.Thread):
    """Samples a process's RSS every 0.1 s; :meth:`peak_since` gives the peak of a window."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self._process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                self.samples.append((time.monotonic(), self._process.memory_info().rss))
            except Exception:
                return

    def peak_between(self, start: float, end: float) -> float:
        values = [rss for at, rss in self.samples if start <= at <= end]
        return round(max(values) / MB, 1) if values else 0.0


def _slow_upload(url: str, answers: Counter[str], stop: threading.Event) -> None:
    """Open stalled raw uploads one after the other until ``stop``; count the answers."""
    port = int(url.rsplit(":", 1)[1])
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
                sock.sendall(
                    (
                        f"POST {SYNC} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Content-Type: application/octet-stream\r\n"
                        "Content-Length: 1000000\r\n\r\n"
                    ).encode()
                    + b"x" * 16
                )
                head = sock.recv(200)
            status = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/") else "closed"
        except OSError as exc:
            status = type(exc).__name__
        answers[status] += 1
        if status == "503":  # the connection cap: back off a little, as a client would
            time.sleep(0.1)


def _huge_bodies(url: str, body: bytes, answers: Counter[str], stop: threading.Event) -> None:
    """Post ``body`` back to back until ``stop``; count the answers."""
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            try:
                answer = client.post(
                    "/events", content=body, headers={"content-type": "application/json"}
                )
                answers[str(answer.status_code)] += 1
            except httpx.HTTPError as exc:
                answers[type(exc).__name__] += 1


def _ordinary(
    url: str, bucket: str, keys: list[str], etags: dict[str, str]
) -> tuple[list[float], Counter[str], list[str]]:
    """Post one notification per key at :data:`RATE` per second; latencies and answers."""
    latencies: list[float] = []
    answers: Counter[str] = Counter()
    started: list[str] = []
    lock = threading.Lock()

    def post(key: str) -> None:
        began = time.monotonic()
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                answer = client.post(
                    "/events",
                    content=_notification(bucket, [key], etags),
                    headers={"content-type": "application/json"},
                )
            status = str(answer.status_code)
            ids = [r["id"] for r in answer.json().get("executions", [])] if status == "202" else []
        except httpx.HTTPError as exc:
            status, ids = type(exc).__name__, []
        with lock:
            latencies.append(time.monotonic() - began)
            answers[status] += 1
            started.extend(ids)

    threads = []
    first = time.monotonic()
    for index, key in enumerate(keys):
        delay = first + index / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        thread = threading.Thread(target=post, args=(key,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(120)
    return latencies, answers, started


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 4)


def _phase(
    name: str,
    url: str,
    bucket: str,
    keys: list[str],
    etags: dict[str, str],
    sampler: _RssSampler,
    *,
    hostile: bool,
) -> dict[str, Any]:
    stop = threading.Event()
    slow_answers: Counter[str] = Counter()
    huge_answers: Counter[str] = Counter()
    attackers: list[threading.Thread] = []
    began = time.monotonic()
    if hostile:
        huge = _notification(
            bucket, [f"incoming/missing-{i:04d}" for i in range(RECORDS_PER_HOSTILE_BODY)], {}
        )
        attackers = [
            threading.Thread(target=_slow_upload, args=(url, slow_answers, stop), daemon=True)
            for _ in range(SLOW_CLIENTS)
        ]
        attackers.append(
            threading.Thread(target=_huge_bodies, args=(url, huge, huge_answers, stop), daemon=True)
        )
        for thread in attackers:
            thread.start()
        time.sleep(1.0)  # let the slow clients take what they can
    latencies, answers, started = _ordinary(url, bucket, keys, etags)
    stop.set()
    ended = time.monotonic()
    for thread in attackers:
        thread.join(120)
    return {
        "phase": name,
        "ordinary_events": len(keys),
        "ordinary_answers": dict(answers),
        "webhook_p50_seconds": _percentile(latencies, 0.5),
        "webhook_p99_seconds": _percentile(latencies, 0.99),
        "webhook_max_seconds": round(max(latencies), 4) if latencies else None,
        "slow_upload_answers": dict(slow_answers),
        "huge_body_answers": dict(huge_answers),
        "rss_peak_mb": sampler.peak_between(began, ended),
        "started": started,
    }


def _completed(url: str, ids: list[str], timeout: float) -> tuple[int, int]:
    """(succeeded, final) of ``ids`` once all are final or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=30) as client:
        while True:
            records = [client.get(f"/executions/{i}").json() for i in ids]
            final = [r for r in records if r.get("status") in ("succeeded", "failed")]
            if len(final) == len(ids) or time.monotonic() > deadline:
                return sum(r["status"] == "succeeded" for r in final), len(final)
            time.sleep(0.5)


def run(ctx: Context) -> dict[str, Any]:
    """The calm phase, then the hostile one, against one service."""
    seconds: float = ctx.pick(2.0, 12.0, 60.0)
    body_timeout: float = ctx.pick(2.0, 5.0, 20.0)
    s3 = ctx.client()
    bucket = new_bucket(s3, "bench-hostile")
    count = int(seconds * RATE)
    keys = {phase: [f"incoming/{phase}-{i:04d}.txt" for i in range(count)] for phase in ("c", "h")}
    etags = {
        key: s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(64))["ETag"]
        for phase_keys in keys.values()
        for key in phase_keys
    }
    ctx.log(f"hostile_input: {count} ordinary events per phase, {SLOW_CLIENTS} slow clients")
    process, url = _start(ctx, bucket, body_timeout)
    sampler = _RssSampler(process.pid)
    sampler.start()
    try:
        calm = _phase("calm", url, bucket, keys["c"], etags, sampler, hostile=False)
        hostile = _phase("hostile", url, bucket, keys["h"], etags, sampler, hostile=True)
        started = calm.pop("started") + hostile.pop("started")
        succeeded, final = _completed(url, started, timeout=ctx.pick(30, 60, 300))
        rss_end = round(sampler.samples[-1][1] / MB, 1) if sampler.samples else None
    finally:
        sampler.stop.set()
        stop_process(process, timeout=15)
    refused = sum(
        n for phase in (calm, hostile) for s, n in phase["ordinary_answers"].items() if s != "202"
    )
    hostile_p99 = hostile["webhook_p99_seconds"]
    rss_growth = round(hostile["rss_peak_mb"] - calm["rss_peak_mb"], 1)
    return entry(
        "hostile_input",
        issue="23",
        description=(
            f"ordinary one-record webhooks at {RATE}/s, calm then while {SLOW_CLIENTS} slow "
            "clients hold raw sync uploads open (16 bytes of a declared 1 MB, then nothing; "
            f"reconnecting at once) and {RECORDS_PER_HOSTILE_BODY}-record bodies arrive back "
            "to back; `serve` with 2 executions at once, a queue of 64, "
            f"--body-timeout {body_timeout:g}"
        ),
        parameters={
            "phase_seconds": seconds,
            "rate_per_second": RATE,
            "slow_clients": SLOW_CLIENTS,
            "records_per_hostile_body": RECORDS_PER_HOSTILE_BODY,
            "body_timeout": body_timeout,
        },
        runs=[calm, hostile],
        metrics={
            "webhook_p99_seconds": {"calm": calm["webhook_p99_seconds"], "hostile": hostile_p99},
            "executions_started": len(started),
            "executions_succeeded": succeeded,
            "executions_final": final,
            "ordinary_refused": refused,
            "rss_peak_mb": {"calm": calm["rss_peak_mb"], "hostile": hostile["rss_peak_mb"]},
            "rss_end_mb": rss_end,
        },
        ratios={
            "hostile_over_calm_p99": (
                round(hostile_p99 / calm["webhook_p99_seconds"], 3)
                if hostile_p99 and calm["webhook_p99_seconds"]
                else None
            )
        },
        goals=[
            goal("ordinary webhooks refused", refused, "<=", 0),
            goal("executions not succeeded", len(started) - succeeded, "<=", 0),
            goal("hostile webhook p99", hostile_p99, "<=", 1.0, "s"),
            goal("RSS growth under attack", rss_growth, "<=", 50, "MB"),
        ],
        notes=[f"service log: {Path(ctx.workdir) / 'hostile-service.log'} (removed after)"],
    )
