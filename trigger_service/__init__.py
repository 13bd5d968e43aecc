"""Trigger service: bucket events in, executions tracked, status over HTTP, streamed results.

``events`` parses notifications; ``intake`` routes them to ``workflows`` and queues them;
``execution`` runs them through the bridge and records them in ``store``; ``api`` serves
status and synchronous runs over HTTP; ``cli`` is the ``bucketstream`` command; ``handler``
runs workflows inside a Lambda or FunctionGraph invocation. Every error is in ``errors``; the
execution record the API returns is in ``records``.
"""

from trigger_service.api import create_app
from trigger_service.errors import TriggerServiceError
from trigger_service.events import ObjectEvent, parse_notification
from trigger_service.execution import ExecutionEngine, process_file
from trigger_service.handler import handler
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
from trigger_service.service import ServiceConfig, open_service
from trigger_service.store import ExecutionStore, SQLiteExecutionStore
from trigger_service.workflows import Workflow, Workflows, load_workflows

__all__ = [
    "ExecutionEngine",
    "ExecutionRecord",
    "ExecutionStatus",
    "ExecutionStore",
    "ObjectEvent",
    "ObjectRef",
    "SQLiteExecutionStore",
    "ServiceConfig",
    "TriggerServiceError",
    "Workflow",
    "Workflows",
    "create_app",
    "handler",
    "load_workflows",
    "open_service",
    "parse_notification",
    "process_file",
]
