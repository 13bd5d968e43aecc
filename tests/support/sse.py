"""A small Server-Sent Events reader over httpx, for tests of the live streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    """One dispatched event (``comment`` set for a comment line instead)."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    comment: str | None = None

    @property
    def record(self) -> dict[str, Any]:
        """The JSON record the event carries."""
        value = json.loads(self.data)
        assert isinstance(value, dict)
        return value


def events(response: httpx.Response) -> Iterator[Event]:
    """The events and comments of a streaming response, as they arrive."""
    name, event_id = "message", None
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith(":"):
            yield Event(comment=line[1:].strip())
            continue
        if line == "":
            if data:
                yield Event(event=name, data="\n".join(data), id=event_id)
            name, data, event_id = "message", [], None
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value


def records(response: httpx.Response) -> Iterator[Event]:
    """Only the events carrying data (no comments, no bare ``retry:``)."""
    return (event for event in events(response) if event.comment is None and event.data)
