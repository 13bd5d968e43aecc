"""``POST /executions/{id}/retry``: run a failed execution again, as a new attempt of it.

The record keeps its id (and so its idempotency key and links): it goes back to ``queued``
with ``attempts`` counting on, and the executor runs it like any queued execution. The call
is idempotent: while that attempt is queued or running, asking again answers ``202`` with the
record and starts nothing more; an execution that did not fail (or already succeeded on its
re-run) answers ``409 NotRetryable``.

A browser page may authenticate with its session cookie only together with the
``X-Bucketstream-Page`` header, which another site cannot send without CORS (which this
service never grants): the cookie alone cannot trigger a re-run across sites.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from trigger_service.api.access import page_session, request_parts, service_of
from trigger_service.api.bodies import read_body
from trigger_service.errors import NotRetryable
from trigger_service.records import ExecutionStatus

PAGE_HEADER = "X-Bucketstream-Page"


async def retry_execution(request: Request) -> Response:
    """Queue a failed execution again; see the module docstring."""
    service = service_of(request)
    body = await read_body(request, service.config.max_body_bytes, pace=service.config.admission)
    auth = service.config.auth
    from_page = request.headers.get(PAGE_HEADER.lower()) is not None
    if not (from_page and auth.accepts_session(page_session(request))):
        auth.check(request_parts(request), body)
    record = await service.store.get(request.path_params["execution_id"])
    headers = {"Location": f"/executions/{record.id}"}
    if not record.status.final:
        return JSONResponse(record.public(), status_code=202, headers=headers)
    if record.status is not ExecutionStatus.FAILED:
        raise NotRetryable(
            f"execution {record.id} is {record.status}; only failed executions are re-run"
        )
    service.workflows.get(record.workflow)  # UnknownWorkflow (404) if it is gone
    reservation = service.executor.reserve()
    try:
        if not await service.executor.rerun(reservation, record):
            current = await service.store.get(record.id)
            return JSONResponse(current.public(), status_code=202, headers=headers)
    finally:
        reservation.release()
    return JSONResponse(record.public(), status_code=202, headers=headers)
