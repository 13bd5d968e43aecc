"""``bucketstream serve``: the HTTP API, the executor and the SQS pollers under uvicorn.

With no S3 endpoint (``--endpoint-url``, ``BUCKETSTREAM_ENDPOINT_URL``, ``AWS_ENDPOINT_URL``)
and no ``--queue-url``, an embedded S3 + SQS is started on loopback with the workflow file's
buckets, a queue and the bucket → queue notification, and the lines to drop a file in are
printed. ``--no-embedded`` uses the normal AWS chain instead. Without ``--config`` a built-in
workflow (:data:`DEFAULT_WORKFLOWS`) gzips ``incoming/`` of bucket ``uploads``.

The execution store is ``bucketstream.db`` in the working directory (``--store``), in memory
with the embedded storage (which forgets everything at exit anyway).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import click
import uvicorn
import yaml

from trigger_service.api.app import create_app
from trigger_service.api.auth import RequestAuth
from trigger_service.cli.embedded import EMBEDDED_CREDENTIALS, EmbeddedStorage, embedded_storage
from trigger_service.cli.logs import log_format_option, uvicorn_log_config
from trigger_service.cli.settings import storage_from_env, transfer_from_env
from trigger_service.errors import TriggerServiceError
from trigger_service.service import ServiceConfig, default_concurrency
from trigger_service.workflows.model import Workflows, load_workflows, parse_workflows

DEFAULT_STORE = "bucketstream.db"

#: The workflow served when no ``--config`` is given.
DEFAULT_WORKFLOWS = """
workflows:
  archive:
    trigger: {bucket: uploads, prefix: "incoming/"}
    steps:
      - gzip: {level: 6}
    output: {bucket: uploads, key: "archived/{key}.gz"}
"""


def _endpoint_configured(endpoint_url: str | None) -> bool:
    return bool(
        endpoint_url
        or os.environ.get("BUCKETSTREAM_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
    )


def drop_in_instructions(storage: EmbeddedStorage, workflows: Workflows, api_url: str) -> str:
    """How to put a file into the embedded storage so that a workflow runs, and watch it."""
    workflow = next(iter(workflows))
    trigger = workflow.trigger
    suffix = trigger.suffix[0] if trigger.suffix else ".jpg"
    name = f"photo{suffix}"
    key = f"{trigger.prefix}{name}"
    access, secret = EMBEDDED_CREDENTIALS
    endpoint = storage.endpoint_url
    return "\n".join(
        [
            f"Embedded S3 + SQS: {endpoint} (region {storage.region}, "
            f"buckets {', '.join(storage.buckets)})",
            f"Drop a file into workflow {workflow.name!r}:",
            f"  AWS_ACCESS_KEY_ID={access} AWS_SECRET_ACCESS_KEY={secret} "
            f"aws --endpoint-url {endpoint} --region {storage.region} "
            f"s3 cp {name} s3://{trigger.bucket}/{key}",
            f"  python -c \"import boto3; boto3.client('s3', endpoint_url='{endpoint}', "
            f"region_name='{storage.region}', aws_access_key_id='{access}', "
            f"aws_secret_access_key='{secret}').upload_file('{name}', "
            f"'{trigger.bucket}', '{key}')\"",
            "Then watch the executions:",
            f"  curl -s {api_url}/executions",
        ]
    )


@click.command()
@log_format_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Workflow file (default: a built-in gzip workflow on bucket 'uploads').",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option("--endpoint-url", default=None, help="S3 endpoint (default: embedded or AWS).")
@click.option("--region", default=None, help="Region (default: AWS_REGION or us-east-1).")
@click.option(
    "--queue-url", "queue_urls", multiple=True, help="SQS queue to poll (repeat for more)."
)
@click.option("--sqs-endpoint-url", default=None, help="SQS endpoint (default: the S3 one).")
@click.option(
    "--store",
    "store_path",
    default=None,
    help=f"SQLite file of the execution store (default: {DEFAULT_STORE}; memory if embedded).",
)
@click.option(
    "--embedded/--no-embedded",
    default=None,
    help="Force or forbid the embedded S3 + SQS (default: when no endpoint and no queue).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Executions at once (2 × cores).",
)
@click.option(
    "--queue-size", type=click.IntRange(min=1), default=256, show_default=True, help="Queue bound."
)
@click.option(
    "--token",
    envvar="BUCKETSTREAM_TOKEN",
    default=None,
    help="Shared token required in X-Bucketstream-Token (env BUCKETSTREAM_TOKEN).",
)
@click.option(
    "--hmac-secret",
    envvar="BUCKETSTREAM_HMAC_SECRET",
    default=None,
    help="Secret of X-Bucketstream-Signature body signatures (env BUCKETSTREAM_HMAC_SECRET).",
)
def serve(
    config_path: Path | None,
    host: str,
    port: int,
    endpoint_url: str | None,
    region: str | None,
    queue_urls: tuple[str, ...],
    sqs_endpoint_url: str | None,
    store_path: str | None,
    embedded: bool | None,
    concurrency: int | None,
    queue_size: int,
    token: str | None,
    hmac_secret: str | None,
) -> None:
    """Run the service: webhook and API over HTTP, SQS pollers, executor."""
    try:
        workflows = (
            load_workflows(config_path)
            if config_path is not None
            else parse_workflows(yaml.safe_load(DEFAULT_WORKFLOWS), source="built-in workflow")
        )
        storage = storage_from_env(endpoint_url=endpoint_url, region=region)
        transfer = transfer_from_env()
    except (TriggerServiceError, ValueError) as exc:
        message = exc.message if isinstance(exc, TriggerServiceError) else str(exc)
        raise click.ClickException(message) from None
    if embedded is None:
        embedded = not _endpoint_configured(endpoint_url) and not queue_urls
    with ExitStack() as stack:
        if embedded:
            triggers = {workflow.trigger.bucket for workflow in workflows}
            local = stack.enter_context(
                embedded_storage(sorted(workflows.buckets()), notify=sorted(triggers))
            )
            storage = local.storage_settings(storage)
            queue_urls = (*queue_urls, local.queue_url)
            sqs_endpoint_url = sqs_endpoint_url or local.endpoint_url
            click.echo(drop_in_instructions(local, workflows, f"http://{host}:{port}"))
        store = store_path if store_path is not None else (None if embedded else DEFAULT_STORE)
        click.echo(f"Execution store: {store or 'in memory'}")
        config = ServiceConfig(
            workflows=workflows,
            storage=storage,
            transfer=transfer,
            store_path=store,
            base_dir=config_path.parent if config_path is not None else None,
            concurrency=concurrency or default_concurrency(),
            queue_size=queue_size,
            queue_urls=queue_urls,
            sqs_endpoint_url=sqs_endpoint_url,
            auth=RequestAuth(token=token or None, hmac_secret=hmac_secret or None),
        )
        if embedded:
            # The embedded queue answers long polls quickly; keep shutdown snappy.
            config = replace(config, sqs=replace(config.sqs, wait_seconds=2))
        uvicorn.run(
            create_app(config),
            host=host,
            port=port,
            log_level="info",
            log_config=uvicorn_log_config(),
        )
