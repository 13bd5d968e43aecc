"""Prometheus metrics of one service instance (its own registry, served at ``/metrics``).

========================================== ======= =========================================
name                                       type    labels
========================================== ======= =========================================
``bucketstream_executions_total``          counter workflow, status (succeeded | failed)
``bucketstream_executions_active``         gauge   state (queued | running)
``bucketstream_queue_depth``               gauge   (executions accepted, not yet started)
``bucketstream_retries_total``             counter workflow
``bucketstream_bytes_read_total``          counter workflow
``bucketstream_bytes_written_total``       counter workflow
``bucketstream_step_duration_seconds``     hist.   workflow, step
``bucketstream_events_total``              counter source, outcome (started | duplicate |
                                                   ignored)
``bucketstream_sqs_messages_total``        counter outcome (deleted | redelivered | dropped |
                                                   unprocessed | paused)
========================================== ======= =========================================
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from trigger_service.records import ExecutionRecord, ExecutionStatus

#: Content-Type of :meth:`ServiceMetrics.render`.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class ServiceMetrics:
    """The counters, gauges and histograms of one service, in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.executions = Counter(
            "bucketstream_executions",
            "Executions that reached a final state.",
            ["workflow", "status"],
            registry=r,
        )
        self.active = Gauge(
            "bucketstream_executions_active",
            "Executions queued or running right now.",
            ["state"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "bucketstream_queue_depth",
            "Executions accepted and waiting for a free slot.",
            registry=r,
        )
        self.retries = Counter(
            "bucketstream_retries", "Retries of transient failures.", ["workflow"], registry=r
        )
        self.bytes_read = Counter(
            "bucketstream_bytes_read", "Input bytes read.", ["workflow"], registry=r
        )
        self.bytes_written = Counter(
            "bucketstream_bytes_written", "Output bytes committed.", ["workflow"], registry=r
        )
        self.step_duration = Histogram(
            "bucketstream_step_duration_seconds",
            "Wall time of each pipeline stage of finished executions.",
            ["workflow", "step"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "bucketstream_events",
            "Object events received, by what became of them.",
            ["source", "outcome"],
            registry=r,
        )
        self.sqs_messages = Counter(
            "bucketstream_sqs_messages",
            "SQS messages handled, by what became of them.",
            ["outcome"],
            registry=r,
        )

    def track_active(self, queued: Callable[[], int], running: Callable[[], int]) -> None:
        """Read the queued and running gauges (and queue depth) from live callables."""
        self.active.labels(state="queued").set_function(queued)
        self.active.labels(state="running").set_function(running)
        self.queue_depth.set_function(queued)

    def finished(self, record: ExecutionRecord) -> None:
        """Count a final execution: status, bytes, per-step durations."""
        if not record.status.final:
            return
        workflow = record.workflow
        self.executions.labels(workflow=workflow, status=record.status.value).inc()
        for step in record.steps:
            if step.name == "read":
                self.bytes_read.labels(workflow=workflow).inc(step.bytes_out)
            if step.started_at is not None and step.finished_at is not None:
                seconds = (step.finished_at - step.started_at).total_seconds()
                self.step_duration.labels(workflow=workflow, step=step.name).observe(
                    max(seconds, 0.0)
                )
        if record.status is ExecutionStatus.SUCCEEDED:
            outputs = [record.output] if record.output is not None else (record.outputs or [])
            written = sum(output.size or 0 for output in outputs)
            self.bytes_written.labels(workflow=workflow).inc(written)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
