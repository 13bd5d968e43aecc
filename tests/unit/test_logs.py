"""Log lines: JSON objects or text, with the execution a line is about from a context variable."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import anyio
import pytest

from trigger_service.cli.logs import configure_logging
from trigger_service.logcontext import current_fields, log_context

logger = logging.getLogger("bucketstream.test")


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_bound_execution_everywhere(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("json", logging.INFO, stream=stream)

    async def work() -> None:
        with log_context(execution_id="e1", workflow="photos"):
            logger.info("in the task")

            async def child() -> None:
                with log_context(step="compress"):
                    logger.info("in a child task")

            async with anyio.create_task_group() as group:
                group.start_soon(child)
            await anyio.to_thread.run_sync(lambda: logger.warning("in a worker thread"))
        logger.info("outside")

    anyio.run(work)
    lines = _lines(stream)
    assert [line["message"] for line in lines] == [
        "in the task",
        "in a child task",
        "in a worker thread",
        "outside",
    ]
    for line in lines[:3]:
        assert line["execution_id"] == "e1" and line["workflow"] == "photos"
        assert {"time", "level", "logger", "message"} <= line.keys()
    assert lines[1]["step"] == "compress" and "step" not in lines[0]
    assert "execution_id" not in lines[3]
    assert lines[2]["level"] == "WARNING" and lines[0]["logger"] == "bucketstream.test"
    assert str(lines[0]["time"]).endswith("Z")
    assert current_fields() == {}


def test_adapter_fields_and_exceptions_in_json(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("json", logging.INFO, stream=stream)
    adapter = logging.LoggerAdapter(logger, {"execution": "e2", "workflow": "w", "step": "s"})
    try:
        raise ValueError("boom")
    except ValueError:
        adapter.exception("failed")
    (line,) = _lines(stream)
    assert (line["execution_id"], line["workflow"], line["step"]) == ("e2", "w", "s")
    assert "ValueError: boom" in str(line["exception"])


def test_text_lines_show_the_execution_id(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("text", logging.INFO, stream=stream)
    with log_context(execution_id="e3", workflow="photos", step="decode"):
        logger.info("about it")
    logger.info("about nothing")
    about, nothing = stream.getvalue().splitlines()
    assert "[execution e3 photos/decode]: about it" in about
    assert "bucketstream.test: about nothing" in nothing


def test_chatty_libraries_never_log_debug(restore_root: None) -> None:
    configure_logging("json", logging.DEBUG, stream=io.StringIO())
    assert logging.getLogger("botocore").level == logging.INFO


def test_unbound_lines_that_name_an_execution_carry_its_id(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("json", logging.INFO, stream=stream)
    logger.info("execution %s: aborted its multipart upload %s", "e4", "u1")
    logger.info("executions recovered: %s", "2")
    named, other = _lines(stream)
    assert named["execution_id"] == "e4"
    assert "execution_id" not in other
