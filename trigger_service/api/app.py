"""The HTTP API (starlette): events in, execution records out, synchronous streaming runs.

=========================================== ==================================================
``POST /events``                            any notification shape → ``202 {"executions",
                                            "duplicates", "ignored"}``; nothing started →
                                            ``200``; malformed → ``400``
``POST /events/sns/{secret}``, ``…/smn/…``  verified SNS / SMN deliveries, subscriptions
                                            confirmed (:mod:`~trigger_service.api.topics`)
``GET /executions/{id}``                    the execution record; ``404`` if unknown
``GET /executions``                         ``?status=&workflow=&limit=&cursor=`` newest first
                                            → ``{"executions", "next_cursor"}``
``POST /workflows/{name}/executions``       ``{"bucket","key"}`` → ``202`` record
``POST /workflows/{name}/sync-executions``  ``{"bucket","key"}`` or raw bytes (direct upload)
                                            → ``200`` output streamed chunked, header
                                            ``X-Execution-Id``; ``?store=false`` stores nothing
``GET /executions/{id}/events``             Server-Sent Events: ``progress``…, one ``end``
``GET /executions/stream``                  Server-Sent Events of every execution's changes
                                            (:mod:`~trigger_service.api.live`)
``GET /executions/{id}/preview``            a thumbnail of the input or output
``POST /executions/{id}/retry``             a failed execution queued again
``GET /``, ``GET /static/{name}``           the status page (:mod:`~trigger_service.api.page`)
``GET /openapi.json``                       the generated OpenAPI 3.1 document
``GET /healthz``, ``GET /metrics``          liveness (503 while the store is down); Prometheus
=========================================== ==================================================

Every error is ``{"error": {"code": ..., "message": ...}}``. A full queue answers ``429`` with
``Retry-After``. When authentication is configured (:mod:`trigger_service.api.auth`) every
endpoint but ``/healthz``, ``/metrics``, the login form and the page's static files requires
it (the read-only views also as the page session cookie), before anything else is looked at.
Requests whose ``Host`` is not allowed (loopback names by default) are refused (DNS
rebinding), and so are a browser's cross-site writes (:mod:`~trigger_service.api.origin`);
JSON bodies must be typed ``application/json`` (:mod:`~trigger_service.api.bodies`). API
starts read only what the workflow's trigger watches (:mod:`trigger_service.workflows.scope`).
A synchronous execution that fails
after its first byte aborts the connection (no final chunk) so the caller cannot mistake a
truncated output for a complete one.

What one request may cost (body pace, raw-upload slots, event records and HEADs, live
streams) is bounded by :class:`~trigger_service.execution.admission.AdmissionLimits`: a body
that stalls is answered ``408``, the others ``413``, ``429`` or ``503``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from trigger_service.api import live
from trigger_service.api.access import authenticate, authenticate_viewer, service_of
from trigger_service.api.bodies import (
    ObjectRequest,
    check_event_type,
    media_type,
    parse_model,
    read_body,
    require_json,
    sync_body_kind,
)
from trigger_service.api.errors import EXCEPTION_HANDLERS, error_response
from trigger_service.api.logcontext import ExecutionLogContext
from trigger_service.api.openapi import openapi_document
from trigger_service.api.origin import CrossOriginGuard
from trigger_service.api.page import login, static, status_page
from trigger_service.api.params import bool_param, int_param, status_param
from trigger_service.api.preview import preview
from trigger_service.api.retry import retry_execution
from trigger_service.api.sync import SyncExecution
from trigger_service.api.topics import install_secret_filter, smn_delivery, sns_delivery
from trigger_service.api.uploads import receive_upload
from trigger_service.errors import StoreUnavailable
from trigger_service.events.parse import parse_notification
from trigger_service.execution.admission import Reservation
from trigger_service.intake.routing import check_record_count
from trigger_service.metrics import METRICS_CONTENT_TYPE
from trigger_service.records import (
    ExecutionRecord,
    ExecutionStatus,
    ObjectRef,
    new_execution_id,
)
from trigger_service.service import Service, ServiceConfig, open_service
from trigger_service.store.protocol import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

EXECUTION_ID_HEADER = "X-Execution-Id"
#: Seconds ``/healthz`` waits for the execution store's answer.
HEALTH_STORE_TIMEOUT = 3.0


_service = service_of
_authenticate = authenticate


async def _post_events(request: Request) -> Response:
    """A storage notification in any supported shape."""
    service = _service(request)
    check_event_type(request)
    body = await read_body(request, service.config.max_body_bytes, pace=service.config.admission)
    _authenticate(request, body)
    parsed = parse_notification(body)
    check_record_count(parsed, service.config.admission.max_event_records)
    accepted = await service.intake.accept(parsed, source="webhook")
    content = {
        "executions": [record.public() for record in accepted.executions],
        "duplicates": list(accepted.duplicates),
        "ignored": [{"reason": i.reason, "detail": i.detail} for i in accepted.ignored],
    }
    return JSONResponse(content, status_code=202 if accepted.executions else 200)


async def _get_execution(request: Request) -> Response:
    """One execution record."""
    record = await authenticate_viewer(request).store.get(request.path_params["execution_id"])
    return JSONResponse(record.public())


async def _list_executions(request: Request) -> Response:
    """Execution records, newest first, one page at a time."""
    service = authenticate_viewer(request)
    query = request.query_params
    status = status_param(query.get("status"))
    limit = int_param(query.get("limit"), "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = await service.store.list_executions(
        status=status,
        workflow=query.get("workflow") or None,
        limit=limit,
        cursor=query.get("cursor") or None,
    )
    return JSONResponse(
        {
            "executions": [record.public() for record in page.executions],
            "next_cursor": page.next_cursor,
        }
    )


async def _post_execution(request: Request) -> Response:
    """Start a workflow on one object (deduplicated like events)."""
    service = _service(request)
    require_json(request)
    body = await read_body(request, service.config.max_body_bytes, pace=service.config.admission)
    _authenticate(request, body)
    target = parse_model(ObjectRequest, body)
    record, _ = await service.intake.start_api(
        request.path_params["name"], target.bucket, target.key
    )
    return JSONResponse(
        record.public(),
        status_code=202,
        headers={EXECUTION_ID_HEADER: record.id, "Location": f"/executions/{record.id}"},
    )


async def _post_sync_execution(request: Request) -> Response:
    """Run a workflow now and stream its output back as it is produced.

    ``?store=false`` writes nothing; ``?output=NAME`` picks the output of a fan-out workflow
    streamed back (its others are still written unless ``store=false``).
    """
    service = _service(request)
    is_json = sync_body_kind(request) == "json"
    if is_json:
        body = await read_body(
            request, service.config.max_body_bytes, pace=service.config.admission
        )
        _authenticate(request, body)
    else:
        _authenticate(request, None)
    # Only once authenticated: which workflows exist is not told to anyone.
    workflow = service.workflows.get(request.path_params["name"])
    store_output = bool_param(request.query_params.get("store"), "store", default=True)
    output = workflow.branch(request.query_params.get("output"))  # UnknownOutput: 400
    if is_json:
        target = parse_model(ObjectRequest, body)
        service.intake.admit_api(workflow, target.bucket, target.key)  # OutOfScope: 403
    raw_type = media_type(request)
    execution_id = new_execution_id()
    headers = {EXECUTION_ID_HEADER: execution_id}
    reservation: Reservation | None = service.executor.reserve() if is_json else None
    try:
        if is_json:
            source = ObjectRef(bucket=target.bucket, key=target.key)
        else:
            source, reservation = await receive_upload(
                request,
                service,
                workflow.trigger.bucket,
                workflow.trigger.prefix,
                execution_id,
                raw_type,
            )
        executor = service.executor
        record = ExecutionRecord(
            id=execution_id,
            workflow=workflow.name,
            input=source,
            source="sync",
            worker=executor.worker_id,
        )
        await service.store.create(record, lease_seconds=executor.leases.lease_seconds)
    except BaseException:
        if reservation is not None:
            reservation.release()
        raise
    assert reservation is not None
    run = SyncExecution(record)
    run.start(
        service.task_group,
        service.executor,
        reservation,
        workflow,
        store_output=store_output,
        output_name=output.name,
    )
    try:
        first = await run.first_chunk()
        if first is None:
            final = await run.final()
            if final.status is ExecutionStatus.SUCCEEDED:
                return Response(b"", media_type=output.content_type, headers=headers)
            error = final.error
            assert error is not None
            return error_response(
                error.code, error.message, transient=error.transient, headers=headers
            )
    except BaseException:
        run.close()
        raise
    return SyncExecutionResponse(run, first, media_type=output.content_type, headers=headers)


class SyncExecutionResponse(StreamingResponse):
    """A chunked response fed by a :class:`SyncExecution`; stops the run when it ends."""

    def __init__(
        self, run: SyncExecution, first: bytes, *, media_type: str, headers: Mapping[str, str]
    ) -> None:
        self._run = run
        self._chunks = run.chunks(first)
        super().__init__(self._chunks, media_type=media_type, headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._run.close()
            with anyio.CancelScope(shield=True):
                await self._chunks.aclose()


async def _healthz(request: Request) -> Response:
    """Liveness with the executor's counts; 503 with a reason while the store is unreachable."""
    service = _service(request)
    body: dict[str, object] = {
        "status": "ok",
        "worker": service.executor.worker_id,
        "store": service.store.kind,
        "queued": service.executor.queued,
        "running": service.executor.running,
    }
    try:
        with anyio.fail_after(HEALTH_STORE_TIMEOUT):
            await service.store.ping()
    except (StoreUnavailable, TimeoutError) as exc:
        reason = exc.message if isinstance(exc, StoreUnavailable) else "no answer in time"
        body.update(status="unavailable", reason=f"execution store: {reason}")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


async def _metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    return Response(_service(request).metrics.render(), media_type=METRICS_CONTENT_TYPE)


_ROUTES = [
    Route("/", status_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/static/{name}", static, methods=["GET"]),
    Route("/openapi.json", openapi_document, methods=["GET"]),
    Route("/events", _post_events, methods=["POST"]),
    Route("/events/sns/{secret}", sns_delivery, methods=["POST"]),
    Route("/events/smn/{secret}", smn_delivery, methods=["POST"]),
    Route("/executions", _list_executions, methods=["GET"]),
    Route("/executions/stream", live.all_events, methods=["GET"]),
    Route("/executions/{execution_id}", _get_execution, methods=["GET"]),
    Route("/executions/{execution_id}/events", live.execution_events, methods=["GET"]),
    Route("/executions/{execution_id}/preview", preview, methods=["GET"]),
    Route("/executions/{execution_id}/retry", retry_execution, methods=["POST"]),
    Route("/workflows/{name}/executions", _post_execution, methods=["POST"]),
    Route("/workflows/{name}/sync-executions", _post_sync_execution, methods=["POST"]),
    Route("/healthz", _healthz, methods=["GET"]),
    Route("/metrics", _metrics, methods=["GET"]),
]


def create_app(config: ServiceConfig | None = None, *, service: Service | None = None) -> Starlette:
    """The ASGI app: give ``config`` (the lifespan runs the service) or a running ``service``."""
    if (config is None) == (service is None):
        raise ValueError("give exactly one of config and service")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_secret_filter()  # after the server configured its loggers
        if service is not None:
            app.state.service = service
            yield
            return
        assert config is not None
        async with open_service(config) as running:
            app.state.service = running
            try:
                yield
            finally:
                app.state.service = None

    auth = config.auth if config is not None else service.config.auth  # type: ignore[union-attr]
    app = Starlette(
        routes=_ROUTES,
        exception_handlers=dict(EXCEPTION_HANDLERS),
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=list(auth.allowed_hosts)),
            Middleware(CrossOriginGuard),
            Middleware(ExecutionLogContext),
        ],
        lifespan=lifespan,
    )
    if service is not None:
        app.state.service = service
    return app
