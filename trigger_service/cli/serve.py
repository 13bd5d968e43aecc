"""``bucketstream serve``: the HTTP API, the executor and the SQS pollers under uvicorn.

With no S3 endpoint (``--endpoint-url``, ``BUCKETSTREAM_ENDPOINT_URL``, ``AWS_ENDPOINT_URL``)
and no ``--queue-url``, an embedded S3 + SQS is started on loopback with the workflow file's
buckets, a queue and the bucket → queue notification, and the lines to drop a file in are
printed. ``--no-embedded`` uses the normal AWS chain instead. Without ``--config`` a built-in
workflow (:data:`DEFAULT_WORKFLOWS`) gzips ``incoming/`` of bucket ``uploads``.

The execution store is ``bucketstream.db`` in the working directory (``--store``), in memory
with the embedded storage (which forgets everything at exit anyway); several workers on one
queue share a PostgreSQL store (``--store postgresql://…``), each under its ``--worker-id``
with leases of ``--lease-seconds`` (README, "Several machines").

Settings come from one model (:mod:`trigger_service.cli.config`): the workflow file's
``service:`` section (or ``--settings``) < ``BUCKETSTREAM_*`` variables < flags.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import uvicorn
import yaml

from storage_adapter import StorageSettings
from trigger_service.api.app import create_app
from trigger_service.api.auth import LOOPBACK_HOSTS, RequestAuth
from trigger_service.cli.config import ServiceSettings, load_settings, read_settings_file
from trigger_service.cli.drain import DrainingServer
from trigger_service.cli.embedded import EMBEDDED_CREDENTIALS, EmbeddedStorage, embedded_storage
from trigger_service.cli.logs import configure_logging, log_format_option, uvicorn_log_config
from trigger_service.environment import storage_from_env
from trigger_service.errors import TriggerServiceError
from trigger_service.execution.leases import DEFAULT_LEASE_SECONDS, default_worker_id
from trigger_service.service import ServiceConfig, default_concurrency
from trigger_service.topics import TopicDeliveries
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


def describe_store(url: str) -> str:
    """The store URL without a password."""
    if url.startswith(("postgresql://", "postgres://")):
        from trigger_service.store.postgres import describe

        return describe(url)
    return url


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    help="Workflow file (default: a built-in gzip workflow on bucket 'uploads'); its "
    "'service:' section holds settings.",
)
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (YAML; instead of the workflow file's 'service:' section).",
)
@click.option(
    "--print-settings",
    is_flag=True,
    help="Print the effective settings (secrets masked) as JSON and exit.",
)
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", default=None, type=int, help="Port to listen on [default: 8080].")
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
    help="Execution store: a SQLite file, sqlite:///PATH, or postgresql://user:pass@host/db "
    f"shared by several workers (env BUCKETSTREAM_STORE; default {DEFAULT_STORE}, "
    "memory if embedded).",
)
@click.option(
    "--worker-id",
    default=None,
    help="This worker's id in execution records and leases (env BUCKETSTREAM_WORKER_ID; "
    "default: host-pid-random).",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(min=1),
    default=None,
    help="How long a worker holds an execution without renewing it (renewed every third) "
    f"[default: {DEFAULT_LEASE_SECONDS:g}].",
)
@click.option(
    "--visibility-timeout",
    type=click.IntRange(min=2, max=43200),
    default=None,
    help="SQS visibility timeout of received messages, extended while they run [default: 60].",
)
@click.option(
    "--wait-seconds",
    type=click.IntRange(min=0, max=20),
    default=None,
    help="SQS long-poll wait (default 20; 2 with the embedded storage).",
)
@click.option(
    "--drain-seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="On SIGTERM, seconds running executions get to finish before they are handed back "
    "to other workers (env BUCKETSTREAM_DRAIN_SECONDS) [default: 25].",
)
@click.option(
    "--redelivery-base",
    type=click.IntRange(min=0, max=43200),
    default=None,
    help="Base of the SQS redelivery back-off, doubled per receive [default: 2].",
)
@click.option(
    "--redelivery-cap",
    type=click.IntRange(min=0, max=43200),
    default=None,
    help="Longest SQS redelivery back-off in seconds [default: 900].",
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
    "--queue-size", type=click.IntRange(min=1), default=None, help="Queue bound [default: 256]."
)
@click.option(
    "--token",
    default=None,
    help="Shared token required in X-Bucketstream-Token (env BUCKETSTREAM_TOKEN).",
)
@click.option(
    "--hmac-secret",
    default=None,
    help="Secret of X-Bucketstream-Signature body signatures (env BUCKETSTREAM_HMAC_SECRET).",
)
@click.option(
    "--limit-concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Connections and requests at once; beyond it uvicorn answers 503 [default: 1000].",
)
@click.option(
    "--keep-alive-seconds",
    type=click.IntRange(min=1),
    default=None,
    help="Idle keep-alive connections are closed after this [default: 5].",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="A request body pausing this long (or slower than --body-min-rate bytes/s after "
    "it) is answered 408 [default: 20].",
)
@click.option("--body-min-rate", type=click.IntRange(min=1), default=None, help="[default: 500]")
@click.option(
    "--upload-slots",
    type=click.IntRange(min=1),
    default=None,
    help="Raw sync uploads received at once, apart from the queue [default: --concurrency].",
)
@click.option(
    "--max-streams",
    type=click.IntRange(min=1),
    default=None,
    help="Live (Server-Sent Events) streams at once; beyond them 503 [default: 100].",
)
@click.option(
    "--allowed-hosts",
    default=None,
    help="Comma-separated Host names served, '*.example.com' wildcards, '*' any "
    "(env BUCKETSTREAM_ALLOWED_HOSTS) [default: 127.0.0.1,localhost,::1].",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    default=None,
    help="Listen beyond loopback with no token and no HMAC secret (anyone reaching the port "
    "can start executions).",
)
def serve(
    config_path: Path | None,
    settings_path: Path | None,
    print_settings: bool,
    **flags: Any,
) -> None:
    """Run the service: webhook and API over HTTP, SQS pollers, executor.

    Settings come from the workflow file's 'service:' section (or --settings), then
    BUCKETSTREAM_* environment variables, then these flags, each overriding the one before.
    """
    flags["store"] = flags.pop("store_path")
    flags["queue_urls"] = list(flags["queue_urls"])
    if flags["allowed_hosts"] is not None:
        flags["allowed_hosts"] = [h.strip() for h in flags["allowed_hosts"].split(",") if h.strip()]
    try:
        settings_file = settings_path or config_path
        file_values = read_settings_file(settings_file) if settings_file is not None else {}
        settings = load_settings(file_values, flags, source=str(settings_file or "settings"))
        if print_settings:
            shown = settings.masked()
            if shown["store"]:
                shown["store"] = describe_store(shown["store"])
            click.echo(json.dumps(shown, indent=2))
            return
        workflows = (
            load_workflows(config_path)
            if config_path is not None
            else parse_workflows(yaml.safe_load(DEFAULT_WORKFLOWS), source="built-in workflow")
        )
        storage = storage_from_env(endpoint_url=settings.endpoint_url, region=settings.region)
    except (TriggerServiceError, ValueError) as exc:
        message = exc.message if isinstance(exc, TriggerServiceError) else str(exc)
        raise click.ClickException(message) from None
    if not is_loopback(settings.host) and not (
        settings.token or settings.hmac_secret or settings.insecure_no_auth
    ):
        raise click.UsageError(
            f"refusing to listen on {settings.host} without authentication: set --token "
            "(BUCKETSTREAM_TOKEN) or --hmac-secret (BUCKETSTREAM_HMAC_SECRET), or pass "
            "--insecure-no-auth to accept unauthenticated requests from the network"
        )
    if "log_format" in settings.model_fields_set:
        configure_logging(settings.log_format, logging.getLogger().level)
    run_service(settings, workflows, storage, config_path)


def run_service(
    settings: ServiceSettings,
    workflows: Workflows,
    storage: StorageSettings,
    config_path: Path | None,
) -> None:
    """Start the embedded storage if wanted, then the service under uvicorn, until stopped."""
    queue_urls = tuple(settings.queue_urls)
    sqs_endpoint_url = settings.sqs_endpoint_url
    embedded = settings.embedded
    if embedded is None:
        embedded = not _endpoint_configured(settings.endpoint_url) and not queue_urls
    sqs = settings.sqs()
    with ExitStack() as stack:
        if embedded:
            triggers = {workflow.trigger.bucket for workflow in workflows}
            local = stack.enter_context(
                embedded_storage(sorted(workflows.buckets()), notify=sorted(triggers))
            )
            storage = local.storage_settings(storage)
            queue_urls = (*queue_urls, local.queue_url)
            sqs_endpoint_url = sqs_endpoint_url or local.endpoint_url
            api_url = f"http://{settings.host}:{settings.port}"
            click.echo(drop_in_instructions(local, workflows, api_url))
            if "wait_seconds" not in settings.model_fields_set:
                # The embedded queue answers long polls quickly; keep shutdown snappy.
                sqs = replace(sqs, wait_seconds=2)
        store = settings.store
        if store is None:
            store = None if embedded else DEFAULT_STORE
        click.echo(f"Execution store: {describe_store(store) if store else 'in memory'}")
        token, secret = settings.token, settings.hmac_secret
        config = ServiceConfig(
            workflows=workflows,
            storage=storage,
            transfer=settings.transfer(),
            store_path=store,
            base_dir=config_path.parent if config_path is not None else None,
            concurrency=settings.concurrency or default_concurrency(),
            queue_size=settings.queue_size,
            queue_urls=queue_urls,
            sqs_endpoint_url=sqs_endpoint_url,
            sqs=sqs,
            auth=RequestAuth(
                token=token.get_secret_value() if token else None,
                hmac_secret=secret.get_secret_value() if secret else None,
                allowed_hosts=tuple(settings.allowed_hosts) or LOOPBACK_HOSTS,
            ),
            topics=TopicDeliveries(
                path_secrets=tuple(s.get_secret_value() for s in settings.sns_path_secrets),
                topics=frozenset([*settings.sns_topics, *settings.smn_topics]),
            ),
            worker_id=settings.worker_id or default_worker_id(),
            lease_seconds=settings.lease_seconds,
            admission=settings.admission(),
            drain_seconds=settings.drain_seconds,
            freeze_heap=True,
        )
        click.echo(f"Worker {config.worker_id}, leases of {settings.lease_seconds:g} s")
        app = create_app(config)
        server = DrainingServer(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level="info",
                log_config=uvicorn_log_config(),
                limit_concurrency=settings.limit_concurrency,
                timeout_keep_alive=settings.keep_alive_seconds,
            ),
            app,
        )
        server.run()
