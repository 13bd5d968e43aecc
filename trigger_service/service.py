"""The running service: its configuration and the objects one instance is made of.

:func:`open_service` builds them in order — storage gateway, prepared workflows, execution
store, engine, executor, router, intake, SQS pollers — takes over what dead workers (or a
previous run) left unfinished once their leases expired, and runs the executor and the
pollers in one task group until the context exits. A clean stop first drains
(:meth:`Service.drain`, what ``serve`` does on SIGTERM): running executions finish within
``drain_seconds``, the rest are handed back without using an attempt; what still runs when
the context exits is cancelled, its upload aborted and its lease given up, so the next worker
to look takes it over at once (after a crash it waits for the lease to expire).

With ``freeze_heap`` (``bucketstream serve`` sets it) the objects made while starting —
imported modules, botocore's service models, prepared workflows — are collected once and
then frozen out of the cyclic garbage collector (:func:`gc.freeze`). Otherwise the first full
collection, which falls on the first execution, walks all of them with the event loop and
every worker thread stopped (about 140 ms measured, for nothing: it found no garbage), and so
does every later one.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from storage_adapter import StorageIO, StorageSettings, TransferSettings
from trigger_service.execution.admission import AdmissionLimits
from trigger_service.execution.engine import ExecutionEngine
from trigger_service.execution.executor import Executor
from trigger_service.execution.leases import (
    DEFAULT_LEASE_SECONDS,
    LeaseSettings,
    default_worker_id,
)
from trigger_service.health import Health
from trigger_service.intake.intake import Intake
from trigger_service.intake.routing import Router
from trigger_service.intake.sqs import SqsPoller, SqsSettings
from trigger_service.metrics import ServiceMetrics
from trigger_service.store.factory import store_from_url
from trigger_service.store.protocol import ExecutionStore
from trigger_service.topics import TopicDeliveries
from trigger_service.workflows.model import Workflows, prepare_workflows
from trigger_service.workflows.resources import StorageResourceLoader

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from trigger_service.api.auth import RequestAuth

logger = logging.getLogger(__name__)

MiB = 1024 * 1024


def _auth_off() -> RequestAuth:
    # No token, no secret. Imported here: the api package imports this module (its app runs
    # a Service), so a module-level import made `import trigger_service.service` circular.
    from trigger_service.api.auth import RequestAuth

    return RequestAuth()


def default_concurrency() -> int:
    """Two executions per CPU core (they mostly wait on storage)."""
    return 2 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class ServiceConfig:
    """Everything one service instance needs."""

    workflows: Workflows
    storage: StorageSettings = field(default_factory=StorageSettings)
    transfer: TransferSettings = field(default_factory=TransferSettings)
    #: The execution store: a SQLite path, ``sqlite:///path`` or ``postgresql://…``;
    #: None keeps it in memory (lost at exit).
    store_path: str | Path | None = None
    #: This worker's id in execution records and leases (default host-pid-random).
    worker_id: str = field(default_factory=default_worker_id)
    #: How long a worker holds an execution without renewing (renewed every third of it).
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    #: Directory that relative resource paths in the workflow file are read from.
    base_dir: Path | None = None
    concurrency: int = field(default_factory=default_concurrency)
    #: Executions accepted and waiting at most; beyond it POSTs answer 429.
    queue_size: int = 256
    retry_after_seconds: int = 1
    queue_urls: tuple[str, ...] = ()
    #: SQS endpoint; None uses the storage endpoint (moto, LocalStack) or AWS's default.
    sqs_endpoint_url: str | None = None
    sqs: SqsSettings = field(default_factory=SqsSettings)
    auth: RequestAuth = field(default_factory=_auth_off)
    #: SNS / SMN deliveries (``POST /events/sns/{secret}``): path secrets, allowed topics.
    topics: TopicDeliveries = field(default_factory=TopicDeliveries)
    #: Largest JSON or notification body accepted (413 beyond).
    max_body_bytes: int = 1 * MiB
    #: Largest raw-bytes body of a synchronous execution (413 beyond).
    max_upload_bytes: int = 5 * 1024 * MiB
    #: What one request may cost: body pace, raw-upload slots, event records and HEADs,
    #: live streams (:class:`~trigger_service.execution.admission.AdmissionLimits`).
    admission: AdmissionLimits = field(default_factory=AdmissionLimits)
    #: Seconds between two saves of a running execution's progress (what live streams show).
    progress_interval: float = 0.25
    #: Seconds a stopping service lets running executions finish before handing them back.
    drain_seconds: float = 25.0
    #: Freeze the start-up objects out of the garbage collector once started (a long-running
    #: process of its own; see the module doc). The freeze is process-wide.
    freeze_heap: bool = False


@dataclass
class Service:
    """One running instance: what the HTTP API and the pollers work with."""

    config: ServiceConfig
    workflows: Workflows
    io: StorageIO
    store: ExecutionStore
    engine: ExecutionEngine
    executor: Executor
    router: Router
    intake: Intake
    metrics: ServiceMetrics
    task_group: TaskGroup
    pollers: list[SqsPoller] = field(default_factory=list)
    _hurry: anyio.CancelScope | None = None

    async def drain(self, seconds: float | None = None) -> list[str]:
        """Stop taking work, let running executions finish, hand the rest back at once.

        New executions answer 503 with ``Retry-After`` and the pollers receive nothing;
        running executions get ``seconds`` (``drain_seconds``) to finish, then are stopped and
        handed back queued without using an attempt, their leases ended and their SQS
        messages made visible again, so another worker starts on them at once. Returns the
        ids handed back. :meth:`hurry` ends the wait early.
        """
        seconds = self.config.drain_seconds if seconds is None else seconds
        self.executor.drainer.start()
        for poller in self.pollers:
            poller.stop()
        with anyio.move_on_after(seconds) as self._hurry:
            await self.executor.drainer.wait_idle()
        handed = await self.executor.drainer.hand_back()
        with anyio.move_on_after(5.0, shield=True):
            for poller in self.pollers:
                await poller.wait_idle()
        with anyio.CancelScope(shield=True):
            for poller in self.pollers:
                await poller.release()
        return handed

    def hurry(self) -> None:
        """End a drain's wait now (a second stop signal); what runs is handed back."""
        if self._hurry is not None:
            self._hurry.cancel()


@contextmanager
def frozen_heap(enabled: bool) -> Iterator[None]:
    """Collect, then freeze every object that exists now out of later collections (if
    ``enabled``); unfreeze them when the block ends."""
    if not enabled:
        yield
        return
    gc.collect()
    gc.freeze()
    logger.info("%d start-up objects frozen out of garbage collection", gc.get_freeze_count())
    try:
        yield
    finally:
        gc.unfreeze()


def make_sqs_client(config: ServiceConfig) -> SQSClient:
    """A boto3 SQS client whose read timeout outlasts a long poll."""
    import boto3.session  # here: importing the service does not load boto3 (~20 MB of RSS)
    from botocore.config import Config

    storage = config.storage
    session = boto3.session.Session(profile_name=storage.profile)
    return session.client(
        "sqs",
        endpoint_url=config.sqs_endpoint_url or storage.endpoint_url,
        region_name=storage.region,
        config=Config(
            retries={"mode": "standard", "max_attempts": storage.max_attempts},
            connect_timeout=storage.connect_timeout,
            read_timeout=config.sqs.wait_seconds + storage.read_timeout,
        ),
    )


@asynccontextmanager
async def open_service(
    config: ServiceConfig, *, store: ExecutionStore | None = None
) -> AsyncIterator[Service]:
    """Start a service instance; it stops when the context exits."""
    io = StorageIO.from_settings(config.storage)
    loader = StorageResourceLoader(io, base_dir=config.base_dir)
    workflows = await prepare_workflows(config.workflows, loader)
    store = store or store_from_url(config.store_path)
    await store.open()
    try:
        metrics = ServiceMetrics()
        engine = ExecutionEngine(io, config.transfer, progress_interval=config.progress_interval)
        executor = Executor(
            engine,
            store,
            workflows,
            concurrency=config.concurrency,
            queue_size=config.queue_size,
            metrics=metrics,
            retry_after=config.retry_after_seconds,
            leases=LeaseSettings(config.worker_id, config.lease_seconds),
            # An SQS execution is left to its redelivered message for two visibility timeouts.
            sqs_grace=2.0 * config.sqs.visibility_timeout,
        )
        router = Router(
            workflows,
            io,
            head_parallel=config.admission.head_parallel,
            head_budget_seconds=config.admission.head_budget_seconds,
        )
        intake = Intake(workflows, router, store, executor, metrics)
        await executor.take_over_expired(sqs_grace=0)
        async with anyio.create_task_group() as group:
            await group.start(executor.run)
            pollers: list[SqsPoller] = []
            if config.queue_urls:
                sqs_client = make_sqs_client(config)
                buckets = sorted({w.trigger.bucket for w in workflows})
                health = Health(store, io, buckets)
                for url in config.queue_urls:
                    poller = SqsPoller(
                        sqs_client,
                        url,
                        intake,
                        executor,
                        settings=config.sqs,
                        metrics=metrics,
                        health=health,
                    )
                    pollers.append(poller)
                    group.start_soon(poller.run)
            service = Service(
                config=config,
                workflows=workflows,
                io=io,
                store=store,
                engine=engine,
                executor=executor,
                router=router,
                intake=intake,
                metrics=metrics,
                task_group=group,
                pollers=pollers,
            )
            try:
                with frozen_heap(config.freeze_heap):
                    yield service
            finally:
                group.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):
            await executor.release_leases()
    finally:
        with anyio.CancelScope(shield=True):
            await store.close()
