"""Three ``bucketstream serve`` workers on one SQS queue and one PostgreSQL store; one dies.

Promise under test: with several workers, every object dropped into a bucket is still
processed once. Bucket notifications go to one moto SQS queue, and every notification is also
delivered a second time (SQS may). Executions park after their first 5 MiB part (upload open,
its id recorded) while ``park`` exists; once the first worker holds a full set of parked
executions it is killed with SIGKILL and the others are let go. Afterwards: every execution
succeeded, each output has exactly one version (versioned bucket), no multipart upload is
open, the queue is empty, and every surviving worker lists all executions (one shared store).
The dead worker's executions are taken over once their leases expire (redelivered messages,
or the sweep) and show ``attempts`` 2 and a surviving ``worker``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.service import notify_queue, queue_size, s3_notification, unique
from tests.support.serving import ServeProcess
from tests.support.storage import KiB, MiB, open_uploads, versions_under
from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

WORKERS = 3
CONCURRENCY = 2
#: Over one 5 MiB part, so every output is a multipart upload, open while the step parks.
OBJECT_SIZE = 5 * MiB + 256 * KiB

WORKFLOW = """
workflows:
  copy:
    trigger: {{bucket: {source}, prefix: "incoming/"}}
    steps:
      - "tests.reliability.steps_under_test:parking":
          {{park_dir: "{park_dir}", after_bytes: {after}, max_park_seconds: 60}}
    output: {{bucket: {target}, key: "copied/{{key}}"}}
    retry: {{attempts: 3, backoff_seconds: 0}}
    timeout_seconds: 120
"""


def _several_workers(
    s3: S3Client,
    sqs: SQSClient,
    moto_endpoint: str,
    postgres_url: str,
    tmp_path: Path,
    objects: int,
) -> None:
    source, target = unique("workers-in"), unique("workers-out")
    s3.create_bucket(Bucket=source)
    s3.create_bucket(Bucket=target)
    s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    queue = notify_queue(s3, sqs, source)
    park_dir = tmp_path / "parking"
    park_dir.mkdir()
    config = tmp_path / "workflows.yaml"
    config.write_text(
        WORKFLOW.format(source=source, target=target, park_dir=park_dir, after=5 * MiB)
    )
    workers = [
        ServeProcess(
            config=config,
            endpoint=moto_endpoint,
            store=tmp_path / f"unused-{i}.db",
            store_url=postgres_url,
            log_path=tmp_path / f"serve-{i}.log",
            queue_urls=[queue.url],
            concurrency=CONCURRENCY,
            extra=(
                *("--worker-id", f"w{i}"),
                *("--lease-seconds", "3"),
                *("--visibility-timeout", "10"),
                *("--wait-seconds", "1"),
            ),
            env={"BUCKETSTREAM_CHUNK_SIZE": str(256 * KiB), "BUCKETSTREAM_PART_SIZE": str(5 * MiB)},
        )
        for i in range(WORKERS)
    ]
    doomed, survivors = workers[0], workers[1:]
    generator = random.Random(11)
    keys = [f"incoming/{i:03d}.bin" for i in range(objects)]
    try:
        for worker in workers:
            worker.start()
        (park_dir / "park").touch()
        for key in keys:
            etag = s3.put_object(Bucket=source, Key=key, Body=generator.randbytes(OBJECT_SIZE))[
                "ETag"
            ].strip('"')
            duplicate = s3_notification(source, key, etag=etag, size=OBJECT_SIZE)
            sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps(duplicate))

        def doomed_is_busy() -> bool:
            running = survivors[0].executions(status="running")
            mine = [r for r in running if r["worker"] == "w0" and r["upload_id"]]
            return len(mine) == CONCURRENCY

        wait_for(doomed_is_busy, within=90, interval=0.05)
        doomed.kill()
        interrupted = {
            r["id"] for r in survivors[0].executions(status="running") if r["worker"] == "w0"
        }
        (park_dir / "park").unlink()

        def all_succeeded() -> bool:
            records = survivors[0].executions()
            failed = [r for r in records if r["status"] == "failed"]
            assert not failed, failed
            return len(records) == objects and all(r["status"] == "succeeded" for r in records)

        wait_for(all_succeeded, within=240, interval=0.5)
        wait_for(lambda: queue_size(sqs, queue.url) == 0, within=120, interval=1.0)

        listings = [{r["id"]: r for r in worker.executions()} for worker in survivors]
        assert all(len(listing) == objects for listing in listings)
        assert listings[0].keys() == listings[1].keys()
        records = listings[0]
        assert sorted(r["input"]["key"] for r in records.values()) == keys
        assert versions_under(s3, target, "copied/") == {f"copied/{k}": 1 for k in keys}
        assert open_uploads(s3, target) == []
        for execution_id in interrupted:
            assert records[execution_id]["attempts"] == 2
            assert records[execution_id]["worker"] in {"w1", "w2"}
        for key in keys:
            output = s3.head_object(Bucket=target, Key=f"copied/{key}")
            owner = output["Metadata"]["bucketstream-execution"]
            assert records[owner]["input"]["key"] == key
        print(
            f"\n{WORKERS} workers, {objects} objects each notified twice, w0 killed with "
            f"{len(interrupted)} running: {objects} succeeded, 1 version each, 0 open uploads, "
            "queue empty"
        )
    except BaseException:
        for worker in workers:
            print(f"---- {worker.log_path.name}\n{worker.log()[-8000:]}")
        raise
    finally:
        for worker in workers:
            worker.kill()


def test_three_workers_one_killed_process_every_object_once(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str, postgres_url: str, tmp_path: Path
) -> None:
    _several_workers(s3, sqs, moto_endpoint, postgres_url, tmp_path, objects=12)


@pytest.mark.soak
def test_three_workers_sixty_objects_one_killed(
    s3: S3Client, sqs: SQSClient, moto_endpoint: str, postgres_url: str, tmp_path: Path
) -> None:
    _several_workers(s3, sqs, moto_endpoint, postgres_url, tmp_path, objects=60)
