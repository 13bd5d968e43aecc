"""Trigger service: bucket events in, executions tracked, status over HTTP, streamed results.

``events`` parses notifications; ``intake`` routes them to ``workflows`` and queues them;
``execution`` runs them through the bridge and records them in ``store``; ``service`` assembles
a running instance and ``api`` serves it over HTTP (``api.create_app``); ``cli`` is the
``bucketstream`` command; ``handler`` runs workflows inside a Lambda or FunctionGraph
invocation. Importing this package loads the engine, not the HTTP stack. Every error is in
``errors``; the execution record is in ``records``.
"""

from trigger_service.errors import TriggerServiceError
from trigger_service.events import ObjectEvent, parse_notification
from trigger_service.execution import ExecutionEngine, process_file
from trigger_service.handler import handler
from trigger_service.records import ExecutionRecord, ExecutionStatus, ObjectRef
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
    "TriggerServiceError",
    "Workflow",
    "Workflows",
    "handler",
    "load_workflows",
    "parse_notification",
    "process_file",
]
