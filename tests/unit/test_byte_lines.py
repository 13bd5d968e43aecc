"""lines: line cuts across chunks, CRLF, a last line without newline, JSON-lines, guards."""

from __future__ import annotations

import json
import random

import pytest

from bridge import StageFailed
from steps import StepConfigError, configure_step
from steps.bytes import LINES
from steps.errors import InvalidLogLine, LineTooLong, PatternTimeout
from tests.support.byte_steps import cut_positions, cuts, run_byte_step
from tests.support.fakes import MemorySink

pytestmark = pytest.mark.anyio

LOG = (
    b"2026-12-01 INFO started\n"
    b"2026-12-01 ERROR disk full\r\n"
    b"2026-12-01 DEBUG healthcheck ok\n"
    b"\n"
    b"2026-12-01 ERROR healthcheck failed\n"
    b"2026-12-01 FATAL out of memory"
)


async def filtered(
    chunks: list[bytes], params: dict[str, object]
) -> tuple[bytes, dict[str, object]]:
    run = await run_byte_step(LINES, chunks, params)
    return run.output, run.metrics.extra


async def test_match_and_exclude_keep_lines_byte_for_byte() -> None:
    out, counts = await filtered([LOG], {"match": "ERROR|FATAL", "exclude": "healthcheck"})
    assert out == b"2026-12-01 ERROR disk full\r\n2026-12-01 FATAL out of memory"
    assert counts == {"lines_in": 6, "lines_out": 2}


async def test_every_cut_gives_the_same_output() -> None:
    params: dict[str, object] = {"match": [r"ERROR", r"^2026-12-01 FATAL"], "exclude": "check"}
    expected, _ = await filtered([LOG], params)
    for position in range(len(LOG) + 1):
        assert (await filtered(cuts(LOG, position), params))[0] == expected, position
    rng = random.Random(3)
    for _ in range(100):
        positions = sorted(rng.sample(range(1, len(LOG)), 5))
        assert (await filtered(cuts(LOG, *positions), params))[0] == expected


async def test_no_pattern_keeps_everything_and_counts() -> None:
    chunks = [b"a\nb", b"", b"\r\nc", b"\n", b"d"]
    out, counts = await filtered(chunks, {})
    assert out == b"a\nb\r\nc\nd"
    assert counts == {"lines_in": 4, "lines_out": 4}


async def test_anchors_see_the_line_without_its_terminator() -> None:
    out, _ = await filtered([b"ends with x\r\nx in the middle\n"], {"match": "x$"})
    assert out == b"ends with x\r\n"


async def test_ignore_case_and_invalid_utf8_lines_pass_through_unchanged() -> None:
    data = b"caf\xe9 error\nfine\n"
    out, _ = await filtered([data], {"match": "ERROR", "ignore_case": True})
    assert out == b"caf\xe9 error\n"


def json_log() -> bytes:
    rows = [
        {"level": "INFO", "msg": "up"},
        {"level": "ERROR", "msg": "boom"},
        {"log": {"level": "FATAL"}, "level": "FATAL", "status": 503},
        {"msg": "no level"},
    ]
    lines = [json.dumps(r).encode() for r in rows]
    return b"\n".join([*lines[:2], b"not json at all", *lines[2:]]) + b"\n"


async def test_json_lines_select_on_a_field() -> None:
    data = json_log()
    out, counts = await filtered([data], {"field": "level", "in": ["ERROR", "FATAL"]})
    assert [json.loads(line)["level"] for line in out.splitlines()] == ["ERROR", "FATAL"]
    assert counts == {"lines_in": 5, "lines_out": 2, "lines_invalid": 2}
    for position in cut_positions(len(data), [], window=0, stride=7):
        assert (await filtered(cuts(data, position), {"field": "level", "in": ["ERROR"]}))[0] == (
            out.splitlines(keepends=True)[0]
        )


async def test_json_dotted_path_numbers_as_text_and_on_invalid() -> None:
    data = json_log()
    out, _ = await filtered([data], {"field": "log.level", "in": ["FATAL"]})
    assert out.count(b"\n") == 1
    out, _ = await filtered([data], {"field": "status", "in": [503]})
    assert b'"status": 503' in out
    out, _ = await filtered([data], {"field": "level", "in": ["ERROR"], "on_invalid": "keep"})
    assert out.count(b"\n") == 3
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run_byte_step(
            LINES, [data], {"field": "level", "in": ["X"], "on_invalid": "fail"}, sink=sink
        )
    assert isinstance(caught.value.error, InvalidLogLine)
    assert "line 3 is not JSON" in str(caught.value.error)
    assert sink.aborted == 1 and not sink.committed


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"match": "(unclosed"}, "lines.match: Value error, invalid regular expression"),
        ({"exclude": ["ok", "[z-a]"]}, "lines.exclude: Value error, invalid regular expression"),
        ({"field": "level"}, "needs both 'field' and 'in'"),
        ({"in": ["ERROR"]}, "needs both 'field' and 'in'"),
        ({"match": "x" * 5000}, "longer than 4096"),
        ({"pattern_timeout": 0}, "pattern_timeout"),
        ({"mode": "grep"}, "mode"),
    ],
)
def test_bad_parameters_fail_at_load_naming_the_field(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(StepConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        configure_step(LINES, params)


async def test_catastrophic_pattern_times_out_with_a_typed_error() -> None:
    sink = MemorySink()
    line = b"a" * 40 + b"!\n"
    with pytest.raises(StageFailed) as caught:
        await run_byte_step(
            LINES,
            [b"fine\n", line],
            {"match": "^(a|aa)+$", "pattern_timeout": 0.05},
            sink=sink,
        )
    assert isinstance(caught.value.error, PatternTimeout)
    assert "line 2" in str(caught.value.error)
    assert sink.aborted == 1 and not sink.committed


async def test_a_line_over_the_limit_fails() -> None:
    sink = MemorySink()
    with pytest.raises(StageFailed) as caught:
        await run_byte_step(
            LINES, [b"ok\n", b"x" * 1500, b"x" * 1500], {"max_line_bytes": 2048}, sink=sink
        )
    assert isinstance(caught.value.error, LineTooLong)
    assert "line 2" in str(caught.value.error)
    assert sink.aborted == 1


DEEP = b"[" * 200_000 + b"]" * 200_000  # past the interpreter's recursion limit


@pytest.mark.parametrize("on_invalid", ["skip", "keep"])
async def test_a_deeply_nested_line_is_an_invalid_line_not_a_crash(on_invalid: str) -> None:
    data = b'{"level": "ERROR"}\n' + DEEP + b"\n" + b'{"level": "ERROR", "a": [[1]]}\n'
    params: dict[str, object] = {"field": "level", "in": ["ERROR"], "on_invalid": on_invalid}
    out, counts = await filtered([data], params)
    kept = b'{"level": "ERROR"}\n' + (DEEP + b"\n" if on_invalid == "keep" else b"")
    assert out == kept + b'{"level": "ERROR", "a": [[1]]}\n'
    assert counts["lines_invalid"] == 1


async def test_a_deeply_nested_line_fails_as_invalid_with_on_invalid_fail() -> None:
    sink = MemorySink()
    with pytest.raises(StageFailed) as failed:
        await run_byte_step(
            LINES, [DEEP + b"\n"], {"field": "a", "in": ["x"], "on_invalid": "fail"}, sink=sink
        )
    assert isinstance(failed.value.error, InvalidLogLine)
    assert "max_depth (64)" in str(failed.value.error)
    assert sink.aborted == 1 and not sink.committed


@pytest.mark.parametrize(
    ("line", "over"),
    [
        (b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', False),
        (b"[" * 64 + b"]" * 64, False),
        (b"[" * 65 + b"]" * 65, True),
        (b"[" + b'{"k": "\\"[[[["}, ' * 70 + b"1]", False),
    ],
)
def test_nesting_depth_skips_brackets_in_strings(line: bytes, over: bool) -> None:
    from steps.bytes.lines import json_depth_over

    assert json_depth_over(line, 64) is over
