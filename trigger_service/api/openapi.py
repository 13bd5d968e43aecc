"""``GET /openapi.json``: an OpenAPI 3.1 document generated from the app's routes and models.

Paths, methods and path parameters come from the starlette routes, summaries from the
endpoints' docstrings, and schemas from the pydantic models (``ExecutionRecord``,
``ObjectRequest``, :mod:`~trigger_service.api.schemas`) in their serialization form (JSON
Schema 2020-12, which OpenAPI 3.1 uses as is). What a route
answers is declared once in :data:`OPERATIONS`; a route missing there still appears, with a
generic answer, and a test keeps the table complete.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from trigger_service.api.access import authenticate_viewer
from trigger_service.api.bodies import ObjectRequest
from trigger_service.api.schemas import ErrorBody, EventsAnswer, ExecutionList, Health
from trigger_service.records import ExecutionRecord, ExecutionStatus

TITLE = "bucketstream"
VERSION = "0.1.0"
REF = "#/components/schemas/{model}"
#: Fields of stored records that the API never shows (see ``ExecutionRecord.public``).
HIDDEN_RECORD_FIELDS = ("idempotency_key",)


@dataclass(frozen=True)
class Answer:
    """One answer of an operation: a model (JSON), or a media type with a plain schema."""

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Query:
    """A query parameter."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    """What one method of one path takes and answers."""

    answers: Mapping[int, Answer]
    query: Sequence[Query] = ()
    body: type[BaseModel] | None = None
    public: bool = False


_STATUS_SCHEMA = {"type": "string", "enum": [s.value for s in ExecutionStatus]}
_RECORD = Answer("the execution record", ExecutionRecord)
_ERROR = Answer("an error", ErrorBody)
_EVENTS = Answer(
    "Server-Sent Events: ``progress`` and ``end`` events whose data is an execution record",
    media_type="text/event-stream",
    schema={"type": "string"},
)
_FILTERS = (
    Query("workflow", "only this workflow's executions"),
    Query("status", "only executions with this status", _STATUS_SCHEMA),
)
_RESUME = Query("last_event_id", "resume after this event id (like the Last-Event-ID header)")

OPERATIONS: Mapping[tuple[str, str], Operation] = {
    ("/", "get"): Operation(
        {200: Answer("the status page", media_type="text/html", schema={"type": "string"})},
    ),
    ("/login", "post"): Operation(
        {
            303: Answer(
                "the page session cookie is set", media_type="text/html", schema={"type": "string"}
            )
        },
        public=True,
    ),
    ("/static/{name}", "get"): Operation(
        {200: Answer("a file of the page", media_type="text/plain", schema={"type": "string"})},
        public=True,
    ),
    ("/openapi.json", "get"): Operation({200: Answer("this document", schema={"type": "object"})}),
    ("/events", "post"): Operation(
        {
            202: Answer("executions started", EventsAnswer),
            200: Answer("nothing started", EventsAnswer),
        },
    ),
    ("/events/sns/{secret}", "post"): Operation(
        {200: Answer("a verified SNS delivery handled", schema={"type": "object"})},
        public=True,
    ),
    ("/events/smn/{secret}", "post"): Operation(
        {200: Answer("a verified SMN delivery handled", schema={"type": "object"})},
        public=True,
    ),
    ("/executions", "get"): Operation(
        {200: Answer("a page of executions", ExecutionList)},
        query=(
            *_FILTERS,
            Query("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000}),
            Query("cursor", "the next_cursor of the previous page"),
        ),
    ),
    ("/executions/stream", "get"): Operation({200: _EVENTS}, query=(*_FILTERS, _RESUME)),
    ("/executions/{execution_id}", "get"): Operation({200: _RECORD}),
    ("/executions/{execution_id}/events", "get"): Operation(
        {200: _EVENTS, 204: Answer("the client already has the end event")}, query=(_RESUME,)
    ),
    ("/executions/{execution_id}/preview", "get"): Operation(
        {200: Answer("a WebP thumbnail", media_type="image/webp", schema={"type": "string"})},
        query=(
            Query("side", "input or output", {"type": "string", "enum": ["input", "output"]}),
            Query("max", "longest edge", {"type": "integer", "minimum": 16, "maximum": 1024}),
            Query("output", "the output of a fan-out to show (default its first)"),
        ),
    ),
    ("/executions/{execution_id}/retry", "post"): Operation({202: _RECORD}),
    ("/workflows/{name}/executions", "post"): Operation({202: _RECORD}, body=ObjectRequest),
    ("/workflows/{name}/sync-executions", "post"): Operation(
        {
            200: Answer(
                "the output, streamed as produced",
                media_type="application/octet-stream",
                schema={"type": "string"},
            )
        },
        query=(Query("store", "false: stream without storing", {"type": "boolean"}),),
        body=ObjectRequest,
    ),
    ("/healthz", "get"): Operation(
        {200: Answer("alive", Health), 503: Answer("the execution store is down", Health)},
        public=True,
    ),
    ("/metrics", "get"): Operation(
        {200: Answer("Prometheus text", media_type="text/plain", schema={"type": "string"})},
        public=True,
    ),
}

_MODELS: tuple[type[BaseModel], ...] = (
    ExecutionRecord,
    ExecutionList,
    EventsAnswer,
    ErrorBody,
    Health,
)


def _schemas() -> dict[str, Any]:
    _, document = models_json_schema(
        [(model, "serialization") for model in _MODELS] + [(ObjectRequest, "validation")],
        ref_template=REF,
    )
    schemas: dict[str, Any] = document.get("$defs", {})
    record = schemas["ExecutionRecord"]
    for name in HIDDEN_RECORD_FIELDS:
        record["properties"].pop(name, None)
        if name in record.get("required", []):
            record["required"].remove(name)
    return schemas


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _content(answer: Answer) -> dict[str, Any]:
    schema = _ref(answer.model) if answer.model is not None else dict(answer.schema or {})
    return {answer.media_type: {"schema": schema}}


def _operation(route: Route, method: str, operation: Operation | None) -> dict[str, Any]:
    doc = (route.endpoint.__doc__ or route.path).strip().splitlines()[0]
    operation = operation or Operation({200: Answer("the answer", schema={})})
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in route.param_convertors
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "description": q.description,
            "schema": dict(q.schema),
        }
        for q in operation.query
    ]
    responses: dict[str, Any] = {}
    for status, answer in operation.answers.items():
        responses[str(status)] = {"description": answer.description}
        if status != 204:
            responses[str(status)]["content"] = _content(answer)
    responses["default"] = {"description": "an error", "content": _content(_ERROR)}
    result: dict[str, Any] = {
        "operationId": f"{method}_{route.name}".strip("_"),
        "summary": doc,
        "parameters": parameters,
        "responses": responses,
    }
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(operation.body)}},
        }
    if operation.public:
        result["security"] = []
    return result


def build_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        for method in sorted(m.lower() for m in route.methods or () if m != "HEAD"):
            operation = OPERATIONS.get((route.path, method))
            paths.setdefault(route.path, {})[method] = _operation(route, method, operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Object-storage events start streaming workflows; executions are "
            "queried, streamed live (Server-Sent Events) and re-run here.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Bucketstream-Token"},
                "signature": {"type": "apiKey", "in": "header", "name": "X-Bucketstream-Signature"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "bucketstream_session"},
            },
        },
        "security": [{"token": []}, {"signature": []}, {"cookie": []}],
    }


async def openapi_document(request: Request) -> Response:
    """The OpenAPI 3.1 document of this API."""
    authenticate_viewer(request)
    document = getattr(request.app.state, "openapi", None)
    if document is None:
        document = request.app.state.openapi = build_document(request.app.routes)
    return JSONResponse(document)
