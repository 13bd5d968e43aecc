"""Server-Sent Events of execution records: one execution's, or every execution's.

``GET /executions/{id}/events``
    ``event: progress`` with the record each time it changes (at most once per feed interval,
    0.25 s by default), then one ``event: end`` with the final record; the stream then closes.
    An execution already final gets its ``end`` at once. A client that already received the
    ``end`` (its ``Last-Event-ID`` is the end's id) gets ``204``, which tells an
    ``EventSource`` to stop reconnecting.
``GET /executions/stream?workflow=&status=``
    ``event: progress`` for every change of every matching execution, open-ended. A client
    too slow to keep up gets ``event: reset`` (reload the listing) and the stream closes.

Every event's ``id`` is the store's change sequence of that record version, so a client
reconnecting with ``Last-Event-ID`` (what ``EventSource`` sends by itself) resumes after it
without repeats. A comment line keeps idle connections open every 15 s. Events come from
:class:`~trigger_service.api.feed.ChangeFeed` (the shared store), never from this process
alone. At most ``service.max_streams`` streams are open at once; one more is answered
``503 TooManyStreams`` with ``Retry-After`` (the status page then reconnects later).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response

from trigger_service.api.access import authenticate_viewer
from trigger_service.api.feed import ChangeFeed, ChangeFilter, Subscription
from trigger_service.api.params import status_param
from trigger_service.errors import ExecutionNotFound, InvalidRequest
from trigger_service.store.protocol import RecordChange

#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE_SECONDS = 15
#: What a browser waits before reconnecting a dropped stream, in milliseconds.
RECONNECT_MILLISECONDS = 2000
#: A client that takes no data for this long is dropped (its buffers freed).
SEND_TIMEOUT_SECONDS = 30
#: When the server stops, streams end cleanly within this (clients reconnect later).
SHUTDOWN_GRACE_SECONDS = 1.0
EVENT_PROGRESS = "progress"
EVENT_END = "end"
EVENT_RESET = "reset"


async def change_feed(request: Request) -> ChangeFeed:
    """The app's change feed, started in the service's task group on first use."""
    service = authenticate_viewer(request)
    feed = getattr(request.app.state, "feed", None)
    if not isinstance(feed, ChangeFeed) or feed.store is not service.store:
        feed = request.app.state.feed = ChangeFeed(
            service.store, max_subscribers=service.config.admission.max_streams
        )
        service.task_group.start_soon(feed.run)
    await feed.started()
    return feed


def last_event_id(request: Request) -> int | None:
    """The ``Last-Event-ID`` header (or ``?last_event_id=``) as a sequence; None if absent."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(
            f"Last-Event-ID: must be an event id we sent, got {raw[:20]!r}"
        ) from None
    if value < 0:
        raise InvalidRequest(f"Last-Event-ID: must not be negative, got {value}")
    return value


def encode(change: RecordChange, event: str) -> ServerSentEvent:
    """One SSE event carrying a record version."""
    data = json.dumps(change.record.public(), separators=(",", ":"))
    return ServerSentEvent(data=data, event=event, id=str(change.sequence))


def _response(events: AsyncIterator[ServerSentEvent], shutdown: anyio.Event) -> EventSourceResponse:
    return EventSourceResponse(
        events,
        ping=KEEPALIVE_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _next_change(subscription: Subscription, shutdown: anyio.Event) -> bool:
    """Wait for a change or for the server's shutdown; False on shutdown."""
    async with anyio.create_task_group() as group:

        async def first(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            group.cancel_scope.cancel()

        group.start_soon(first, subscription.wait)
        group.start_soon(first, shutdown.wait)
    return not shutdown.is_set()


async def execution_events(request: Request) -> Response:
    """``GET /executions/{id}/events``."""
    execution_id = request.path_params["execution_id"]
    feed = await change_feed(request)
    after = last_event_id(request)
    current = await feed.store.changes(0, limit=1, execution_id=execution_id)
    if not current:
        raise ExecutionNotFound(f"no execution {execution_id!r}")
    latest = current[0]
    if latest.record.status.final and after is not None and latest.sequence <= after:
        return Response(status_code=204)
    subscription = await feed.subscribe(ChangeFilter(execution_id=execution_id), after=after or 0)
    shutdown = anyio.Event()
    return _response(_events(feed, subscription, shutdown, until_final=True), shutdown)


async def all_events(request: Request) -> Response:
    """``GET /executions/stream``."""
    feed = await change_feed(request)
    query = request.query_params
    changes = ChangeFilter(
        workflow=query.get("workflow") or None, status=status_param(query.get("status"))
    )
    subscription = await feed.subscribe(changes, after=last_event_id(request))
    shutdown = anyio.Event()
    return _response(_events(feed, subscription, shutdown, until_final=False), shutdown)


async def _events(
    feed: ChangeFeed, subscription: Subscription, shutdown: anyio.Event, *, until_final: bool
) -> AsyncIterator[ServerSentEvent]:
    """``progress`` events of ``subscription``'s changes; with ``until_final``, the first final
    record is sent as ``end`` and closes the stream. A subscriber too slow to keep up gets a
    ``reset`` (the latest change sequence, to reconnect from) and is cut off; a stopping server
    ends the stream cleanly, and the client reconnects later."""
    yield ServerSentEvent(retry=RECONNECT_MILLISECONDS)
    try:
        while True:
            for change in subscription.take():
                if until_final and change.record.status.final:
                    yield encode(change, EVENT_END)
                    return
                yield encode(change, EVENT_PROGRESS)
            if subscription.lagged:
                latest = await feed.store.last_change()
                yield ServerSentEvent(data="{}", event=EVENT_RESET, id=str(latest))
                return
            if not await _next_change(subscription, shutdown):
                return
    finally:
        feed.unsubscribe(subscription)
