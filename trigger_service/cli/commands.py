"""The ``bucketstream`` command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import NoReturn

import anyio
import click

from bridge import StageFailed
from storage_adapter import StorageIO
from trigger_service.cli.demo import demo
from trigger_service.cli.serve import serve
from trigger_service.cli.settings import storage_from_env, transfer_from_env
from trigger_service.errors import TriggerServiceError
from trigger_service.execution.allocator import tune_allocator
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.failures import error_info
from trigger_service.execution.process import process_file
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.workflows.model import load_workflows, prepare_workflows
from trigger_service.workflows.resources import StorageResourceLoader, parse_s3_url


def _fail(message: str, code: str = "InvalidArgument") -> NoReturn:
    click.echo(f"error: {code}: {message}", err=True)
    sys.exit(1 if code != "InvalidArgument" else 2)


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Serverless streaming for S3-compatible object storage."""
    tune_allocator()
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Their DEBUG output carries request headers (Authorization names the access key id).
    for chatty in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(chatty).setLevel(max(level, logging.INFO))


@main.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workflow", "workflow_name", required=True, help="Workflow name in the file.")
@click.option("--endpoint-url", default=None, help="S3 endpoint (default: boto3's chain).")
@click.option("--region", default=None, help="Region (default: AWS_REGION or us-east-1).")
@click.argument("url")
def run(
    config: Path, workflow_name: str, endpoint_url: str | None, region: str | None, url: str
) -> None:
    """Run one execution on s3://BUCKET/KEY and print the execution JSON.

    Exit status 0 when the execution succeeded, 1 when it failed.
    """
    try:
        bucket, key = parse_s3_url(url)
    except ValueError as exc:
        _fail(str(exc))
    io = StorageIO.from_settings(storage_from_env(endpoint_url=endpoint_url, region=region))

    async def execute() -> ExecutionRecord:
        workflows = await prepare_workflows(
            load_workflows(config), StorageResourceLoader(io, base_dir=config.parent)
        )
        workflow = workflows.get(workflow_name)
        record = ExecutionRecord(
            workflow=workflow.name, input=ObjectRef(bucket=bucket, key=key), source="cli"
        )
        return await ExecutionEngine(io, transfer_from_env()).execute(workflow, record)

    try:
        record = anyio.run(execute)
    except TriggerServiceError as exc:
        _fail(exc.message, exc.code)
    click.echo(json.dumps(record.public(), indent=2))
    sys.exit(0 if record.status is ExecutionStatus.SUCCEEDED else 1)


@main.command()
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workflow", "workflow_name", required=True, help="Workflow name in the file.")
@click.option("--endpoint-url", default=None, help="S3 endpoint for s3:// resources (logos).")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("destination", type=click.Path(path_type=Path))
def process(
    config: Path, workflow_name: str, endpoint_url: str | None, source: Path, destination: Path
) -> None:
    """Run a workflow's steps on the local file SOURCE, writing DESTINATION.

    Uses the same streaming pipeline as a bucket execution. On bad input it exits 1 with the
    error code and message on stderr and leaves no DESTINATION behind. A workflow with several
    outputs writes one file per output beside DESTINATION (out.jpg: out.thumb.webp, ...), or
    into DESTINATION when it is a directory.
    """
    if not source.is_file():
        _fail(f"input file {source} does not exist", "NoSuchFile")
    if source.resolve() == destination.resolve():
        _fail("SOURCE and DESTINATION must differ: originals are never modified")
    io = StorageIO.from_settings(storage_from_env(endpoint_url=endpoint_url))
    into_directory = destination.is_dir()

    async def execute() -> dict[str, object]:
        workflows = await prepare_workflows(
            load_workflows(config), StorageResourceLoader(io, base_dir=config.parent)
        )
        workflow = workflows.get(workflow_name)
        if into_directory and not workflow.fan_out:
            _fail(f"DESTINATION {destination} is a directory; give a file name")
        return await process_file(workflow, source, destination)

    try:
        summary = anyio.run(execute)
    except TriggerServiceError as exc:
        _fail(exc.message, exc.code)
    except StageFailed as exc:
        error = error_info(exc)
        _fail(f"{error.message} (step {error.step})", error.code)
    click.echo(json.dumps(summary, indent=2))


main.add_command(serve)
main.add_command(demo)
