"""``bucketstream demo``: the whole system on an embedded S3 + SQS, start to finish.

Starts the embedded S3 + SQS on loopback, the service (HTTP API, SQS poller, executor) on a
free loopback port, uploads generated sample images into the trigger bucket, and waits while
the real trigger path processes them: bucket notification → SQS → poller → execution →
streaming pipeline → multipart write. Then it prints a results table, saves the outputs under
``./demo-output/`` and exits 0 when every sample ended as expected (the broken one failed with
a typed error code).
"""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import uvicorn
import yaml
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trigger_service.api.app import create_app
from trigger_service.cli.embedded import EmbeddedStorage, embedded_storage, free_port
from trigger_service.cli.logs import log_format_option
from trigger_service.cli.samples import Sample, demo_samples
from trigger_service.environment import transfer_from_env
from trigger_service.intake.sqs import SqsSettings
from trigger_service.service import ServiceConfig
from trigger_service.workflows.model import Workflows, parse_workflows

DEMO_BUCKET = "uploads"
DEMO_WORKFLOWS = """
workflows:
  photos:
    trigger:
      bucket: uploads
      prefix: "incoming/"
      suffix: [".jpg", ".jpeg", ".png", ".gif", ".webp"]
    steps:
      - compress: {max_width: 2048, max_height: 2048, format: keep, quality: 80}
      - watermark: {text: "© bucketstream demo", position: bottom-right, opacity: 0.6}
    output: {bucket: uploads, key: "processed/{stem}.{ext}"}
    retry: {attempts: 2, backoff_seconds: 1}
    timeout_seconds: 300
"""
#: Samples expected to fail, with the error code they must fail with.
EXPECTED_FAILURES = {"broken.jpg": {"TruncatedImage", "InvalidImage"}}
FINAL = {"succeeded", "failed"}


@dataclass
class Outcome:
    """What happened to one sample."""

    sample: Sample
    record: Mapping[str, Any] | None = None
    output: bytes | None = None

    @property
    def name(self) -> str:
        """The sample's file name."""
        return self.sample.key.rpartition("/")[2]

    @property
    def as_expected(self) -> bool:
        """Succeeded, or failed with the expected typed code for a broken sample."""
        if self.record is None:
            return False
        status = self.record["status"]
        if self.name in EXPECTED_FAILURES:
            error = self.record.get("error") or {}
            return status == "failed" and error.get("code") in EXPECTED_FAILURES[self.name]
        return status == "succeeded" and self.output is not None


@contextmanager
def _service(config: ServiceConfig, port: int) -> Iterator[str]:
    """Run the service under uvicorn in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="bucketstream-demo", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise click.ClickException("the service did not start; run with -v for details")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _executions_by_key(api: str) -> dict[str, Mapping[str, Any]]:
    records = _get_json(f"{api}/executions?workflow=photos&limit=100")["executions"]
    latest: dict[str, Mapping[str, Any]] = {}
    for record in reversed(records):  # oldest first, so the newest wins
        latest[record["input"]["key"]] = record
    return latest


def _dimensions(data: bytes | None) -> str:
    if not data:
        return "-"
    try:
        with Image.open(io.BytesIO(data)) as image:
            frames = getattr(image, "n_frames", 1)
            extra = f" ×{frames}f" if frames > 1 else ""
            return f"{image.width}×{image.height}{extra}"
    except Exception:
        return "?"


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value = value / 1000  # type: ignore[assignment]
    return str(value)


def _seconds(record: Mapping[str, Any] | None) -> str:
    if not record or not record.get("started_at") or not record.get("finished_at"):
        return "-"
    from datetime import datetime

    started = datetime.fromisoformat(record["started_at"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(record["finished_at"].replace("Z", "+00:00"))
    return f"{(finished - started).total_seconds():.2f} s"


def _table(outcomes: list[Outcome]) -> Table:
    table = Table(title="bucketstream demo: s3://uploads/incoming/ → processed/")
    for column in ("object", "status", "size in → out", "dimensions in → out", "time", "error"):
        table.add_column(column, no_wrap=True)
    for outcome in outcomes:
        record = outcome.record or {}
        status = record.get("status", "missing")
        style = "green" if outcome.as_expected else "red"
        error = record.get("error") or {}
        output = record.get("output") or {}
        table.add_row(
            outcome.name,
            f"[{style}]{status}[/{style}]",
            f"{_size(len(outcome.sample.data))} → {_size(output.get('size'))}",
            f"{_dimensions(outcome.sample.data)} → {_dimensions(outcome.output)}",
            _seconds(record),
            error.get("code", ""),
        )
    return table


def run_demo(
    *,
    workflows: Workflows,
    samples: list[Sample],
    output_dir: Path,
    console: Console,
    keep_running: bool,
    timeout: float,
) -> list[Outcome]:
    """Run the demo end to end and return what happened to each sample."""
    triggers = sorted({w.trigger.bucket for w in workflows})
    with embedded_storage(sorted(workflows.buckets()), notify=triggers) as storage:
        config = ServiceConfig(
            workflows=workflows,
            storage=storage.storage_settings(),
            transfer=transfer_from_env(),
            queue_urls=(storage.queue_url,),
            sqs_endpoint_url=storage.endpoint_url,
            sqs=SqsSettings(wait_seconds=1),
        )
        with _service(config, free_port()) as api:
            console.print(f"Embedded S3 + SQS: {storage.endpoint_url}   status API: {api}")
            outcomes = _process(storage, api, samples, console, timeout)
            _save(storage, outcomes, output_dir)
            console.print(_table(outcomes))
            console.print(f"Outputs saved under {output_dir}/   Executions: {api}/executions")
            if keep_running:
                _wait_for_interrupt(storage, api, console)
    return outcomes


def _process(
    storage: EmbeddedStorage, api: str, samples: list[Sample], console: Console, timeout: float
) -> list[Outcome]:
    s3 = storage.s3_client()
    outcomes = [Outcome(sample) for sample in samples]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        uploading = progress.add_task("uploading", total=len(samples))
        for sample in samples:
            s3.put_object(Bucket=DEMO_BUCKET, Key=sample.key, Body=sample.data)
            progress.advance(uploading)
        waiting = progress.add_task("processing", total=len(samples))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = _executions_by_key(api)
            for outcome in outcomes:
                outcome.record = records.get(outcome.sample.key)
            done = sum(1 for o in outcomes if o.record and o.record["status"] in FINAL)
            progress.update(waiting, completed=done)
            if done == len(outcomes):
                break
            time.sleep(0.25)
    for outcome in outcomes:
        output = (outcome.record or {}).get("output")
        if output:
            body = s3.get_object(Bucket=output["bucket"], Key=output["key"])["Body"]
            outcome.output = body.read()
    return outcomes


def _save(storage: EmbeddedStorage, outcomes: list[Outcome], output_dir: Path) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    for outcome in outcomes:
        if outcome.output is not None and outcome.record and outcome.record.get("output"):
            name = outcome.record["output"]["key"].rpartition("/")[2]
            (output_dir / name).write_bytes(outcome.output)
        if outcome.record is not None:
            (output_dir / f"{outcome.name}.execution.json").write_text(
                json.dumps(outcome.record, indent=2)
            )


def _wait_for_interrupt(storage: EmbeddedStorage, api: str, console: Console) -> None:
    console.print(
        "\nThe service keeps running. Drop more images in, e.g.\n"
        f"  AWS_ACCESS_KEY_ID=bucketstream AWS_SECRET_ACCESS_KEY=bucketstream aws --endpoint-url "
        f"{storage.endpoint_url} s3 cp photo.jpg s3://{DEMO_BUCKET}/incoming/photo.jpg\n"
        f"  curl -s {api}/executions\nPress Ctrl-C to stop."
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping")


@click.command()
@log_format_option
@click.option("--keep-running", is_flag=True, help="Leave the service up after the demo.")
@click.option(
    "--output",
    "output_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Where to save the processed images and execution records.",
)
@click.option(
    "--timeout", type=float, default=300, show_default=True, help="Seconds to wait for results."
)
@click.option("--small", is_flag=True, help="Use a 6 MP image instead of the 24 MP one (faster).")
def demo(keep_running: bool, output_dir: Path, timeout: float, small: bool) -> None:
    """Process generated sample images on an embedded S3 + SQS and show the results."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    workflows = parse_workflows(yaml.safe_load(DEMO_WORKFLOWS), source="demo workflow")
    console.print("Generating sample images…")
    samples = demo_samples(large=(3000, 2000) if small else (6000, 4000))
    outcomes = run_demo(
        workflows=workflows,
        samples=samples,
        output_dir=output_dir,
        console=console,
        keep_running=keep_running,
        timeout=timeout,
    )
    unexpected = [o.sample.key for o in outcomes if not o.as_expected]
    if unexpected:
        raise click.ClickException(f"unexpected results for: {', '.join(unexpected)}")
    console.print("[green]All samples ended as expected.[/green]")
