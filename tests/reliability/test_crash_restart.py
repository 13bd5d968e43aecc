"""Crash and restart: ``bucketstream serve`` killed with SIGKILL mid-run, started again.

Promise under test: every object dropped into a bucket is processed once. Twenty objects are
dropped into a bucket whose notifications go to SQS; the service is killed while executions
are running with their multipart uploads open, then started again on the same SQLite store.
All twenty must succeed, each output must be written exactly once (one version in a versioned
bucket, tagged with the id of the execution that succeeded), no multipart upload may stay
open, and every SQS message must end up deleted.

The kill comes at a moment the test controls: executions *park* (step
``tests.reliability.steps_under_test:parking``) right after their first 5 MiB part, with the
upload open and its id recorded, until the test lets them go. Killing at an arbitrary moment
can also land in two windows that are tested on their own: between CreateMultipartUpload and
recording the upload id, and between CompleteMultipartUpload and recording success.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.faults import Fault, Request, fault_proxy
from tests.support.service import notify_queue, queue_size, unique
from tests.support.serving import ServeProcess, describe_queue, expire_visibility
from tests.support.storage import KiB, MiB, open_uploads, read_object, versions_under
from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

OBJECTS = 20
CONCURRENCY = 4
#: Over one 5 MiB part, so every output is a multipart upload, open while the step parks.
OBJECT_SIZE = 5 * MiB + 512 * KiB
CHUNK = 256 * KiB

WORKFLOW = """
workflows:
  copy:
    trigger: {{bucket: {source}, prefix: "incoming/"}}
    steps:
      - "tests.reliability.steps_under_test:parking":
          {{park_dir: "{park_dir}", after_bytes: {after}}}
    output: {{bucket: {target}, key: "copied/{{key}}"}}
    retry: {{attempts: 3, backoff_seconds: 0}}
    timeout_seconds: 120
"""


def _store_rows(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT id, status, idempotency_key, attempts, upload_id FROM executions"
        ).fetchall()
    return [
        {"id": r[0], "status": r[1], "key": r[2], "attempts": r[3], "upload_id": r[4]} for r in rows
    ]


def _count(service: ServeProcess, status: str) -> int:
    return len(service.executions(status=status))


def _crash_and_restart(
    s3: S3Client,
    sqs: SQSClient,
    moto_endpoint: str,
    tmp_path: Path,
    *,
    wait_out_visibility: bool,
) -> None:
    source, target = unique("crash-in"), unique("crash-out")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    queue = notify_queue(s3, sqs, source)
    config = tmp_path / "workflows.yaml"
    park_dir = tmp_path / "parking"
    park_dir.mkdir()
    config.write_text(
        WORKFLOW.format(source=source, target=target, park_dir=park_dir, after=5 * MiB)
    )
    store = tmp_path / "executions.db"
    service = ServeProcess(
        config=config,
        endpoint=moto_endpoint,
        store=store,
        log_path=tmp_path / "serve.log",
        queue_urls=[queue.url],
        concurrency=CONCURRENCY,
        extra=LEASE,
        env={
            "BUCKETSTREAM_CHUNK_SIZE": str(CHUNK),
            "BUCKETSTREAM_PART_SIZE": str(5 * MiB),
        },
    )
    generator = random.Random(7)
    payloads = {f"incoming/{i:02d}.bin": generator.randbytes(OBJECT_SIZE) for i in range(OBJECTS)}
    try:
        service.start()
        for key, data in payloads.items():
            s3.put_object(Bucket=source, Key=key, Body=data)

        # Once four executions succeeded, later ones park after their first part; kill when
        # every run slot holds a parked execution whose upload id is recorded (a stable state:
        # nothing else can start, nothing parked can commit).
        wait_for(lambda: _count(service, "succeeded") >= 4, within=90, interval=0.05)
        (park_dir / "park").touch()

        def all_slots_parked() -> bool:
            running = service.executions(status="running")
            parked = len(list(park_dir.glob("parked-*")))
            uploading = [r for r in running if r["upload_id"]]
            return parked == len(running) == len(uploading) == CONCURRENCY

        wait_for(all_slots_parked, within=90, interval=0.05)
        service.kill()
        before = _store_rows(store)
        interrupted = [row for row in before if row["status"] == "running"]
        assert len(interrupted) == CONCURRENCY
        assert all(row["upload_id"] for row in interrupted)
        orphans = open_uploads(s3, target)
        assert len(orphans) == CONCURRENCY, "the crash should have left multipart uploads open"
        succeeded_before = {row["id"] for row in before if row["status"] == "succeeded"}

        (park_dir / "park").unlink()
        service.start()

        def all_succeeded() -> bool:
            records = service.executions()
            failed = [r for r in records if r["status"] == "failed"]
            assert not failed, failed
            return len(records) == OBJECTS and all(r["status"] == "succeeded" for r in records)

        wait_for(all_succeeded, within=120, interval=0.2)

        # The messages the killed process had received come back after their visibility
        # timeout and are deleted as duplicates of the executions that succeeded. Unless the
        # soak variant waits the timeout out, the moto server's clock for them is moved on —
        # again at every check, since the killed process's last long poll stays open on the
        # server for up to 20 s and swallows (receives again) what became visible meanwhile.
        def drained() -> bool:
            if not wait_out_visibility:
                expire_visibility(queue.url)
            return queue_size(sqs, queue.url) == 0

        wait_for(drained, within=100 if wait_out_visibility else 45, interval=1.0)

        records = {r["input"]["key"]: r for r in service.executions()}
        assert sorted(records) == sorted(payloads)
        assert len(records) == OBJECTS
        assert succeeded_before <= {r["id"] for r in records.values()}
        versions = versions_under(s3, target, "copied/")
        assert versions == {f"copied/{key}": 1 for key in payloads}, "an output written twice"
        for key, data in payloads.items():
            record = records[key]
            output = s3.head_object(Bucket=target, Key=f"copied/{key}")
            assert output["Metadata"]["bucketstream-execution"] == record["id"]
            assert read_object(s3, target, f"copied/{key}") == data
        resumed = [records[k] for k in records if records[k]["attempts"] > 1]
        assert {r["id"] for r in resumed} >= {row["id"] for row in interrupted}
        rows = _store_rows(store)
        assert len(rows) == OBJECTS
        assert len({row["key"] for row in rows}) == OBJECTS
        assert all(row["status"] == "succeeded" and row["upload_id"] is None for row in rows)
        assert open_uploads(s3, target) == []
        assert open_uploads(s3, source) == []
        assert service.get("/healthz")["running"] == 0
        print(
            f"\ncrash and restart: {OBJECTS} objects, killed with {len(interrupted)} running "
            f"({len(orphans)} uploads open) and {len(succeeded_before)} succeeded; after the "
            f"restart {OBJECTS} succeeded, 0 written twice, 0 open uploads, queue empty"
        )
    except BaseException:
        print(service.log()[-20_000:])
        print(describe_queue(queue.url))
        raise
    finally:
        service.kill()
        for bucket in (source, target):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                for version in page.get("Versions", []):
                    s3.delete_object(
                        Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"]
                    )


def test_killed_mid_run_then_restarted_processes_every_object_once(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str, tmp_path: Path
) -> None:
    _crash_and_restart(s3, sqs, moto_endpoint, tmp_path, wait_out_visibility=False)


@pytest.mark.soak
def test_killed_mid_run_then_restarted_waiting_out_the_visibility_timeout(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str, tmp_path: Path
) -> None:
    _crash_and_restart(s3, sqs, moto_endpoint, tmp_path, wait_out_visibility=True)


#: The restarted worker takes the killed one's executions over once their leases expire.
LEASE = ("--lease-seconds", "3")

WINDOW_WORKFLOW = """
workflows:
  copy:
    trigger: {{bucket: {source}, prefix: "incoming/"}}
    steps: [passthrough]
    output: {{bucket: {target}, key: "copied/{{key}}"}}
    retry: {{attempts: 3, backoff_seconds: 0}}
"""


def _window(
    s3: S3Client, moto_endpoint: str, tmp_path: Path, held: str, reached: Callable[[str], bool]
) -> tuple[dict[str, Any], str]:
    """Kill the service while the answer to ``held`` is held back, then restart it.

    ``reached(target_bucket)`` says when the store has acted on the held request. Returns the
    final record of the execution and the target bucket.
    """
    source, target = unique("window-in"), unique("window-out")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=source, Key="incoming/a.bin", Body=random.Random(5).randbytes(OBJECT_SIZE))
    config = tmp_path / "workflows.yaml"
    config.write_text(WINDOW_WORKFLOW.format(source=source, target=target))

    def hold(request: Request) -> Fault | None:
        return Fault(hold_response_seconds=60) if request.operation == held else None

    settings = {"BUCKETSTREAM_CHUNK_SIZE": str(MiB), "BUCKETSTREAM_PART_SIZE": str(5 * MiB)}
    with fault_proxy(moto_endpoint, hold) as (proxy, _):
        service = ServeProcess(
            config=config,
            endpoint=proxy,
            store=tmp_path / "executions.db",
            log_path=tmp_path / "serve.log",
            extra=LEASE,
            env=settings,
        )
        try:
            service.start()
            started = httpx.post(
                f"{service.url}/workflows/copy/executions",
                json={"bucket": source, "key": "incoming/a.bin"},
                timeout=10,
            )
            assert started.status_code == 202, started.text
            execution_id = started.json()["id"]
            wait_for(lambda: reached(target), within=60, interval=0.05)
        finally:
            service.kill()
    restarted = ServeProcess(
        config=config,
        endpoint=moto_endpoint,
        store=tmp_path / "executions.db",
        log_path=tmp_path / "serve.log",
        extra=LEASE,
        env=settings,
    )
    try:
        restarted.start()
        record: dict[str, Any] = {}

        def final() -> bool:
            nonlocal record
            record = restarted.get(f"/executions/{execution_id}")
            return record["status"] in {"succeeded", "failed"}

        wait_for(final, within=60)
    finally:
        restarted.kill()
    return record, target


def test_crash_between_create_and_recording_the_upload_id_leaves_no_upload(
    s3: S3Client, moto_endpoint: str, tmp_path: Path
) -> None:
    def upload_created(target: str) -> bool:
        return bool(open_uploads(s3, target))

    record, target = _window(s3, moto_endpoint, tmp_path, "CreateMultipartUpload", upload_created)
    assert record["status"] == "succeeded", record["error"]
    assert record["attempts"] == 2
    assert versions_under(s3, target, "copied/") == {"copied/incoming/a.bin": 1}
    assert open_uploads(s3, target) == []


def test_crash_between_complete_and_recording_success_writes_the_output_once(
    s3: S3Client, moto_endpoint: str, tmp_path: Path
) -> None:
    def output_visible(target: str) -> bool:
        return bool(versions_under(s3, target, "copied/"))

    record, target = _window(s3, moto_endpoint, tmp_path, "CompleteMultipartUpload", output_visible)
    assert record["status"] == "succeeded", record["error"]
    assert open_uploads(s3, target) == []
    assert versions_under(s3, target, "copied/") == {"copied/incoming/a.bin": 1}
