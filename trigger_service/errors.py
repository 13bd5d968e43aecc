"""Errors of the trigger service.

::

    TriggerServiceError
    ├── WorkflowConfigError     InvalidWorkflow     (the workflow file is invalid)
    ├── UnknownWorkflow         UnknownWorkflow
    ├── MalformedEvent          MalformedEvent      (a notification body that cannot be parsed)
    ├── UnsafeOutputKey         UnsafeOutputKey     (an output key template escaping its prefix)
    └── ExecutionNotFound       ExecutionNotFound
"""

from __future__ import annotations


class TriggerServiceError(Exception):
    """Base class of the trigger service's errors; ``code`` is stable and machine-readable."""

    code = "TriggerServiceError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkflowConfigError(TriggerServiceError):
    """The workflow file is invalid; the message names the bad field."""

    code = "InvalidWorkflow"


class UnknownWorkflow(TriggerServiceError):
    """A workflow name that is not in the loaded configuration."""

    code = "UnknownWorkflow"


class MalformedEvent(TriggerServiceError):
    """A notification body that is not one of the known event shapes."""

    code = "MalformedEvent"


class UnsafeOutputKey(TriggerServiceError):
    """An output key that would escape its prefix or contains forbidden characters."""

    code = "UnsafeOutputKey"


class ExecutionNotFound(TriggerServiceError):
    """An execution id that is not in the store."""

    code = "ExecutionNotFound"
