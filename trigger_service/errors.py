"""Every error of the trigger service; each class knows its code, HTTP status and transience.

::

    TriggerServiceError         code                 status  transient
    ├── WorkflowConfigError     InvalidWorkflow      400     no   (the workflow file is invalid)
    ├── UnknownWorkflow         UnknownWorkflow      404     no
    ├── UnknownOutput           UnknownOutput        400     no   (?output= names no branch)
    ├── MalformedEvent          MalformedEvent       400     no   (unparsable notification)
    ├── InvalidRequest          InvalidRequest       400     no   (a body or query field)
    ├── InvalidCursor           InvalidCursor        400     no   (not a cursor of ours)
    ├── UnsafeOutputKey         UnsafeOutputKey      400     no   (escapes its prefix)
    ├── Unauthorized            Unauthorized         401     no   (no token, or a bad signature)
    ├── InvalidSignature        InvalidSignature     403     no   (an SNS/SMN message unverified)
    ├── TopicNotAllowed         TopicNotAllowed      403     no   (a topic not in the allow-list)
    ├── OutOfScope              OutOfScope           403     no   (not what the trigger watches)
    ├── ExecutionNotFound       ExecutionNotFound    404     no
    ├── PreviewUnavailable      PreviewUnavailable   404     no   (no such side, not an image)
    ├── LoopPrevented           LoopPrevented        409     no   (input is an output)
    ├── LeaseLost               LeaseLost            409     no   (another worker owns it now)
    ├── NotRetryable            NotRetryable         409     no   (only failed ones re-run)
    ├── RequestTimeout          RequestTimeout       408     yes  (a body came too slowly)
    ├── RequestTooLarge         RequestTooLarge      413     no
    ├── InputTooLarge           InputTooLarge        413     no   (over limits.max_input_bytes)
    ├── CrossOriginRefused      CrossOriginRefused   403     no   (a browser's cross-site write)
    ├── RequestTooLarge         RequestTooLarge      413     no
    ├── UnsupportedMediaType    UnsupportedMediaType 415     no   (a JSON body not typed as JSON)
    ├── Overloaded              Overloaded           429     yes  (the execution queue is full)
    ├── ClientDisconnected      ClientDisconnected   499     no   (a sync caller went away)
    ├── ExecutionTimeout        Timeout              504     yes  (over its time limit)
    ├── ConfirmationFailed      ConfirmationFailed   502     yes  (SubscribeURL did not answer 200)
    ├── CertificateUnavailable  CertificateUnavailable 503   yes  (signing certificate not fetched)
    ├── ServiceUnavailable      ServiceUnavailable   503     yes  (not running, or draining)
    ├── StoreUnavailable        StoreUnavailable     503     yes  (the execution store is down)
    ├── TooManyStreams          TooManyStreams       503     yes  (every live stream is taken)
    ├── Unprocessed             Unprocessed          503     yes  (deliveries ran out, no DLQ)
    ├── PoisonInput             PoisonInput          422     no   (its worker died running it)
    ├── OutputUnknown           OutputUnknown        503     yes  (a takeover's HEAD unanswered)
    └── TransientFailure        TransientFailure     503     yes  (a function run to retry)

Errors of the other packages (``storage_adapter.StorageError``, ``steps.StepError``) have the
same shape, declared by :class:`CodedError`; the API maps them in :mod:`trigger_service.api.errors`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable


@runtime_checkable
class CodedError(Protocol):
    """What every error of this project carries into an execution record."""

    code: str
    message: str
    transient: bool


class TriggerServiceError(Exception):
    """Base class of the trigger service's errors; ``code`` is stable and machine-readable."""

    code: ClassVar[str] = "TriggerServiceError"
    status: ClassVar[int] = 500
    transient: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers of the answer (``Retry-After`` for :class:`Overloaded`)."""
        return {}


class WorkflowConfigError(TriggerServiceError):
    """The workflow file is invalid; the message names the bad field."""

    code = "InvalidWorkflow"
    status = 400


class UnknownWorkflow(TriggerServiceError):
    """A workflow name that is not in the loaded configuration."""

    code = "UnknownWorkflow"
    status = 404


class MalformedEvent(TriggerServiceError):
    """A notification body that is not one of the known event shapes."""

    code = "MalformedEvent"
    status = 400


class InvalidRequest(TriggerServiceError):
    """The request body or a query parameter is invalid; the message names the field."""

    code = "InvalidRequest"
    status = 400


class InvalidCursor(TriggerServiceError):
    """A listing cursor that this store did not hand out."""

    code = "InvalidCursor"
    status = 400


class UnsafeOutputKey(TriggerServiceError):
    """An output key that would escape its prefix or contains forbidden characters."""

    code = "UnsafeOutputKey"
    status = 400


class Unauthorized(TriggerServiceError):
    """The request carries neither the shared token nor a valid body signature."""

    code = "Unauthorized"
    status = 401


class InvalidSignature(TriggerServiceError):
    """An SNS or SMN message whose signature, signing certificate or URL does not verify."""

    code = "InvalidSignature"
    status = 403


class TopicNotAllowed(TriggerServiceError):
    """An SNS or SMN message from a topic that is not in the configured allow-list."""

    code = "TopicNotAllowed"
    status = 403


class ConfirmationFailed(TriggerServiceError):
    """The ``SubscribeURL`` of a verified subscription confirmation did not answer 200."""

    code = "ConfirmationFailed"
    status = 502
    transient = True


class CertificateUnavailable(TriggerServiceError):
    """A signing certificate could not be fetched (network, size, not a PEM certificate)."""

    code = "CertificateUnavailable"
    status = 503
    transient = True


class OutOfScope(TriggerServiceError):
    """An API call named an object the workflow's trigger does not watch (see ``api:``)."""

    code = "OutOfScope"
    status = 403


class ExecutionNotFound(TriggerServiceError):
    """An execution id that is not in the store."""

    code = "ExecutionNotFound"
    status = 404


class UnknownOutput(TriggerServiceError):
    """A request named an output (``?output=``) the workflow does not have."""

    code = "UnknownOutput"
    status = 400


class PreviewUnavailable(TriggerServiceError):
    """No thumbnail of that side: no output yet, too large, or not a decodable image."""

    code = "PreviewUnavailable"
    status = 404


class LoopPrevented(TriggerServiceError):
    """The input was written by an execution; processing it again could loop forever."""

    code = "LoopPrevented"
    status = 409


class LeaseLost(TriggerServiceError):
    """This worker's lease on an execution expired and another worker took it over."""

    code = "LeaseLost"
    status = 409


class NotRetryable(TriggerServiceError):
    """A re-run asked for an execution that has not failed."""

    code = "NotRetryable"
    status = 409


class RequestTimeout(TriggerServiceError):
    """A request body stopped coming, or came slower than the minimum rate.

    The answer closes the connection: what is left of the body is never read.
    """

    code = "RequestTimeout"
    status = 408
    transient = True

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}


class InputTooLarge(TriggerServiceError):
    """The input object is larger than the workflow's ``limits.max_input_bytes``."""

    code = "InputTooLarge"
    status = 413


class RequestTooLarge(TriggerServiceError):
    """The request body is larger than the limit of its endpoint."""

    code = "RequestTooLarge"
    status = 413


class CrossOriginRefused(TriggerServiceError):
    """A browser sent a write from another site (``Sec-Fetch-Site`` / ``Origin``)."""

    code = "CrossOriginRefused"
    status = 403


class UnsupportedMediaType(TriggerServiceError):
    """A body of the wrong Content-Type (a JSON body must say ``application/json``)."""

    code = "UnsupportedMediaType"
    status = 415


class Overloaded(TriggerServiceError):
    """The execution queue is full; try again after ``retry_after`` seconds."""

    code = "Overloaded"
    status = 429
    transient = True

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ClientDisconnected(TriggerServiceError):
    """The caller of a synchronous execution went away before the output was complete."""

    code = "ClientDisconnected"
    status = 499


class ExecutionTimeout(TriggerServiceError):
    """An execution ran past its time limit (``timeout_seconds``, or a function's invocation)."""

    code = "Timeout"
    status = 504
    transient = True


class ServiceUnavailable(TriggerServiceError):
    """The service is not running (outside its lifespan) or is draining before it stops."""

    code = "ServiceUnavailable"
    status = 503
    transient = True

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class StoreUnavailable(TriggerServiceError):
    """The execution store cannot be reached (PostgreSQL down or restarting)."""

    code = "StoreUnavailable"
    status = 503
    transient = True


class OutputUnknown(TriggerServiceError):
    """Whether a taken-over execution committed its output could not be learnt (the storage
    gave no answer); nothing is deleted or re-run until it can."""

    code = "OutputUnknown"
    status = 503
    transient = True


class TooManyStreams(TriggerServiceError):
    """Every live stream (Server-Sent Events) this service serves is taken; try again later."""

    code = "TooManyStreams"
    status = 503
    transient = True

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class Unprocessed(TriggerServiceError):
    """An event's deliveries ran out on transient failures and no dead-letter queue holds it.

    The execution is recorded failed with this code (and stays re-runnable: ``POST
    /executions/{id}/retry``, a backfill in mode ``failed``), so the event is never lost.
    """

    code = "Unprocessed"
    status = 503
    transient = True


class PoisonInput(TriggerServiceError):
    """The worker running this execution died (lease expired) too many times: quarantined."""

    code = "PoisonInput"
    status = 422


class TransientFailure(TriggerServiceError):
    """A function invocation whose executions failed transiently: raised for the platform to retry.

    ``records`` holds the execution records of the invocation (as its answer would have).
    """

    code = "TransientFailure"
    status = 503
    transient = True

    def __init__(self, message: str, *, records: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.records = records or []
