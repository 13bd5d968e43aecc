"""Which execution a log line is about, carried by a context variable.

:func:`log_context` binds ``execution_id``, ``workflow`` and ``step`` for the code it wraps,
tasks it starts and worker threads it calls (anyio copies the context into both), and
:class:`ExecutionContextFilter` copies them onto every log record, so a formatter can print
them whatever logger wrote the line. Fields a :class:`logging.LoggerAdapter` already put on
a record (``execution``, ``workflow``, ``step``) count too, and so does the codebase's
convention for lines written outside any execution's context (recovery at start, for one):
a message that starts with ``execution %s`` names the execution in its first argument.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The fields a log line about an execution carries.
FIELDS = ("execution_id", "workflow", "step")

_current: ContextVar[dict[str, str]] = ContextVar("bucketstream_log_context", default={})  # noqa: B039


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Bind ``execution_id=``, ``workflow=``, ``step=`` to log lines written inside."""
    merged = {**_current.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _current.set(merged)
    try:
        yield
    finally:
        _current.reset(token)


def current_fields() -> dict[str, str]:
    """The fields bound right now."""
    return dict(_current.get())


class ExecutionContextFilter(logging.Filter):
    """Puts ``execution_id``, ``workflow`` and ``step`` on every record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _current.get()
        adapter_id = getattr(record, "execution", None)
        if getattr(record, "execution_id", None) is None:
            record.execution_id = bound.get("execution_id") or adapter_id or _named(record)
        for name in ("workflow", "step"):
            if getattr(record, name, None) is None:
                setattr(record, name, bound.get(name))
        return True


def _named(record: logging.LogRecord) -> str | None:
    """The id of a ``"execution %s: ..."`` message, the convention of unbound lines."""
    args = record.args
    if (
        isinstance(record.msg, str)
        and record.msg.startswith("execution %s")
        and isinstance(args, tuple)
        and args
        and isinstance(args[0], str)
    ):
        return args[0]
    return None
