"""Log output of every command: ``--log-format text|json`` (env ``BUCKETSTREAM_LOG_FORMAT``).

``json`` writes one object per line with ``time`` (ISO 8601 UTC), ``level``, ``logger``,
``message``, and ``execution_id``, ``workflow``, ``step`` whenever the line is about an
execution (from :mod:`trigger_service.logcontext`), plus ``exception`` with the traceback.
``text`` is the classic line with ``[execution <id> <workflow>/<step>]`` before the message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO, cast

import click

from trigger_service.logcontext import FIELDS, ExecutionContextFilter

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
#: Loggers whose DEBUG output carries request headers (Authorization names the access key).
CHATTY = ("botocore", "boto3", "s3transfer", "urllib3")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [execution id workflow/step]: message``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        execution_id = getattr(record, "execution_id", None)
        context = ""
        if execution_id is not None:
            where = "/".join(
                str(v)
                for v in (getattr(record, "workflow", None), getattr(record, "step", None))
                if v is not None
            )
            context = f" [execution {execution_id}{' ' + where if where else ''}]"
        record.context = context
        return super().format(record)


def configure_logging(
    log_format: LogFormat, level: int, *, stream: TextIO | None = None
) -> logging.Handler:
    """Install one handler on the root logger with ``log_format``; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(ExecutionContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel(max(level, logging.INFO))
    return handler


class StripQuery(logging.Filter):
    """Drops the query string from uvicorn's access lines: no credential reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].partition("?")[0], *args[3:])
        return True


def uvicorn_log_config() -> dict[str, object]:
    """A uvicorn ``log_config`` whose loggers go through the root handler (same format).

    Access lines go through :class:`StripQuery`.
    """
    loggers: dict[str, dict[str, object]] = {
        name: {"handlers": [], "propagate": True, "level": "INFO"}
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    loggers["uvicorn.access"]["filters"] = ["strip_query"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"strip_query": {"()": StripQuery}},
        "loggers": loggers,
    }


def _reconfigure(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        root = logging.getLogger()
        configure_logging(cast(LogFormat, value), root.level)


#: ``--log-format`` on a subcommand (the group has it too): ``bucketstream run --log-format json``.
log_format_option = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default=None,
    expose_value=False,
    is_eager=True,
    callback=_reconfigure,
    help="Log lines as text or JSON (default: the group's, env BUCKETSTREAM_LOG_FORMAT).",
)
