"""The ``bucketstream`` command line."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import ClassVar, NoReturn

import anyio
import click

from bridge import StageFailed, StageMetrics
from storage_adapter import StorageIO
from trigger_service.cli.logs import LOG_FORMATS, LogFormat, configure_logging, log_format_option
from trigger_service.cli.progress import ProgressBar, progress_wanted, quiet_option
from trigger_service.environment import storage_from_env, transfer_from_env
from trigger_service.errors import TriggerServiceError
from trigger_service.execution.allocator import tune_allocator
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.failures import error_info
from trigger_service.execution.process import process_file
from trigger_service.logcontext import log_context
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef, StepRecord
from trigger_service.workflows.model import load_workflows, prepare_workflows
from trigger_service.workflows.resources import StorageResourceLoader, parse_s3_url

#: Seconds between two redraws of ``process``'s progress bar.
PROGRESS_INTERVAL = 0.1


def _fail(message: str, code: str = "InvalidArgument") -> NoReturn:
    click.echo(f"error: {code}: {message}", err=True)
    sys.exit(1 if code != "InvalidArgument" else 2)


class _LazyGroup(click.Group):
    """A group whose heavy commands are imported when named.

    ``serve`` and ``demo`` bring the HTTP stack and the embedded S3; ``run`` and ``process``
    need neither, so they start faster and hold less memory without them.
    """

    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "demo": ("trigger_service.cli.demo", "demo"),
        "serve": ("trigger_service.cli.serve", "serve"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    envvar="BUCKETSTREAM_LOG_FORMAT",
    default="text",
    show_default=True,
    help="Log lines as text or JSON objects (env BUCKETSTREAM_LOG_FORMAT).",
)
def main(verbose: int, log_format: LogFormat) -> None:
    """Serverless streaming for S3-compatible object storage."""
    tune_allocator()
    # botocore & co. stay at INFO at most: their DEBUG output carries request headers.
    configure_logging(log_format, logging.WARNING - 10 * min(verbose, 2))


@main.command()
@log_format_option
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workflow", "workflow_name", required=True, help="Workflow name in the file.")
@click.option("--endpoint-url", default=None, help="S3 endpoint (default: boto3's chain).")
@click.option("--region", default=None, help="Region (default: AWS_REGION or us-east-1).")
@quiet_option
@click.argument("url")
def run(
    config: Path,
    workflow_name: str,
    endpoint_url: str | None,
    region: str | None,
    quiet: bool,
    url: str,
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
        with ProgressBar(key, enabled=progress_wanted(quiet)) as bar:

            async def show(progress: ExecutionRecord) -> None:
                bar.update_steps(progress.input.size, progress.steps)

            engine = ExecutionEngine(io, transfer_from_env())
            with log_context(execution_id=record.id, workflow=workflow.name):
                return await engine.execute(workflow, record, on_progress=show)

    try:
        record = anyio.run(execute)
    except TriggerServiceError as exc:
        _fail(exc.message, exc.code)
    click.echo(json.dumps(record.public(), indent=2))
    sys.exit(0 if record.status is ExecutionStatus.SUCCEEDED else 1)


@main.command()
@log_format_option
@click.option("--config", "config", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workflow", "workflow_name", required=True, help="Workflow name in the file.")
@click.option("--endpoint-url", default=None, help="S3 endpoint for s3:// resources (logos).")
@quiet_option
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("destination", type=click.Path(path_type=Path))
def process(
    config: Path,
    workflow_name: str,
    endpoint_url: str | None,
    quiet: bool,
    source: Path,
    destination: Path,
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
    # A client only if the workflow reads an s3:// resource: local work never imports boto3.
    io = StorageIO.on_demand(storage_from_env(endpoint_url=endpoint_url))
    total = source.stat().st_size
    into_directory = destination.is_dir()

    async def execute() -> dict[str, object]:
        workflows = await prepare_workflows(
            load_workflows(config), StorageResourceLoader(io, base_dir=config.parent)
        )
        workflow = workflows.get(workflow_name)
        if into_directory and not workflow.fan_out:
            _fail(f"DESTINATION {destination} is a directory; give a file name")
        metrics: list[StageMetrics] = []
        failure: Exception | None = None
        with (
            log_context(workflow=workflow.name),
            ProgressBar(source.name, enabled=progress_wanted(quiet)) as bar,
        ):
            if not bar.enabled:
                return await process_file(workflow, source, destination)
            async with anyio.create_task_group() as group:
                group.start_soon(_follow, bar, total, metrics)
                try:
                    summary = await process_file(workflow, source, destination, metrics=metrics)
                except Exception as exc:  # re-raised outside the group: not wrapped
                    failure = exc
                finally:
                    group.cancel_scope.cancel()
        if failure is not None:
            raise failure
        return summary

    try:
        summary = anyio.run(execute)
    except TriggerServiceError as exc:
        _fail(exc.message, exc.code)
    except StageFailed as exc:
        error = error_info(exc)
        _fail(f"{error.message} (step {error.step})", error.code)
    click.echo(json.dumps(summary, indent=2))


async def _follow(bar: ProgressBar, total: int, metrics: list[StageMetrics]) -> None:
    while True:
        bar.update_steps(total, [StepRecord.from_metrics(m) for m in metrics])
        await anyio.sleep(PROGRESS_INTERVAL)
