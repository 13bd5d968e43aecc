"""``lines``: keep the lines of a log that match, drop the rest, chunk by chunk.

.. code-block:: yaml

    - lines: {match: "ERROR|FATAL", exclude: "healthcheck"}
    - lines: {field: level, in: [ERROR, FATAL]}          # JSON lines: select on a field

A line is what ends with ``\\n`` (a ``\\r\\n`` line keeps its ``\\r``; a last line without
newline is kept without one): kept lines are written byte for byte as they came. A line is
kept when it matches one of ``match`` (if given), none of ``exclude``, and, in JSON-lines mode
(``field``), when the field's value (a dotted path, e.g. ``log.level``) is one of ``in``
(compared as text, so ``in: [500]`` selects ``500`` and ``"500"``). Patterns see the line
without its terminator, decoded as UTF-8 (bad bytes replaced), so ``$`` and ``^`` anchor at
its ends.

Patterns are compiled once, when the workflow is loaded (a bad pattern fails the load naming
the field), with the ``regex`` engine in its ``re``-compatible mode. Against catastrophic
backtracking (``^(a|aa)+$`` on a long line of ``a``) every search has a time limit,
``pattern_timeout`` (0.1 s by default): a pattern over it fails the execution with
``PatternTimeout`` naming the line, rather than holding a CPU for minutes or silently
dropping lines. A line is held whole
while it is matched, so lines longer than ``max_line_bytes`` fail with ``LineTooLong``.

Counters in the step's record: ``lines_in``, ``lines_out`` and, in JSON-lines mode,
``lines_invalid`` (lines that are not a JSON object holding ``field``; ``on_invalid`` says
whether they are skipped, kept or fail the execution). A line nesting arrays or objects deeper
than ``max_depth`` (64 by default) is such an invalid line too: its depth is counted before it
is parsed, so a hostile ``[[[[…`` line never reaches the parser's recursion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from steps.api import StepContext, StepDefinition
from steps.cpu import run_cpu
from steps.errors import InvalidLogLine, LineTooLong, PatternTimeout

if TYPE_CHECKING:
    import regex

Scalar = str | int | float | bool | None
MAX_PATTERN_LENGTH = 4096
#: A JSON string (whose brackets do not nest) or one bracket.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_OPENERS = frozenset(b"[{")


def json_depth_over(content: bytes, limit: int) -> bool:
    """Whether ``content`` nests arrays and objects deeper than ``limit`` (brackets inside
    strings do not count). Cheap for ordinary lines: they hold fewer brackets than ``limit``."""
    if content.count(b"[") + content.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(content):
        first = token.group()[0]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != ord('"'):
            depth -= 1
    return False


class LinesParams(BaseModel):
    """Parameters of ``lines``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    match: tuple[str, ...] = Field(default=(), description="keep lines matching any of these")
    exclude: tuple[str, ...] = Field(default=(), description="drop lines matching any of these")
    ignore_case: bool = False
    field: str | None = Field(
        default=None, min_length=1, description="JSON-lines mode: dotted path of the field"
    )
    values: tuple[Scalar, ...] | None = Field(
        default=None, alias="in", description="JSON-lines mode: values of field to keep"
    )
    on_invalid: Literal["skip", "keep", "fail"] = "skip"
    max_line_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    pattern_timeout: float = Field(default=0.1, gt=0, le=10)
    max_depth: int = Field(
        default=64, ge=1, le=500, description="JSON-lines mode: deepest nesting of a line"
    )

    @field_validator("match", "exclude", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("match", "exclude")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        import regex  # here, not at module level: only workflows that filter lines need it

        for pattern in patterns:
            if len(pattern) > MAX_PATTERN_LENGTH:
                raise ValueError(f"a pattern is longer than {MAX_PATTERN_LENGTH} characters")
            try:
                regex.compile(pattern, regex.V0)
            except regex.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return patterns

    @model_validator(mode="after")
    def _json_mode(self) -> LinesParams:
        if (self.field is None) != (self.values is None):
            raise ValueError("JSON-lines mode needs both 'field' and 'in' (the values to keep)")
        return self


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


@dataclass
class LineFilter:
    """The compiled filter, and what it holds between chunks (a line cut by a chunk end)."""

    params: LinesParams
    lines_in: int = 0
    lines_out: int = 0
    lines_invalid: int = 0

    def __post_init__(self) -> None:
        import regex

        flags = regex.V0 | (regex.IGNORECASE if self.params.ignore_case else 0)
        self._match = [regex.compile(p, flags) for p in self.params.match]
        self._exclude = [regex.compile(p, flags) for p in self.params.exclude]
        self._path = self.params.field.split(".") if self.params.field else []
        self._values = {_text(v) for v in self.params.values or ()}
        self._carry = bytearray()

    def feed(self, chunk: bytes | bytearray | memoryview) -> bytes:
        """The kept lines that ``chunk`` completes; a trailing partial line is held."""
        data = chunk if isinstance(chunk, bytes) else bytes(chunk)
        first = data.find(b"\n")
        if first < 0:
            self._carry += data
            self._check_length(len(self._carry))
            return b""
        self._carry += data[: first + 1]
        self._check_length(len(self._carry) - 1)
        head, self._carry = bytes(self._carry), bytearray()
        kept = [head] if self._keep(head) else []
        end = data.rfind(b"\n")
        for line in data[first + 1 : end].split(b"\n") if end > first else ():
            self._check_length(len(line))
            line += b"\n"
            if self._keep(line):
                kept.append(line)
        self._carry += data[end + 1 :]
        self._check_length(len(self._carry))
        return b"".join(kept)

    def finish(self) -> bytes:
        """The last line if it has no newline and is kept."""
        line, self._carry = bytes(self._carry), bytearray()
        return line if line and self._keep(line) else b""

    def _check_length(self, length: int) -> None:
        if length > self.params.max_line_bytes:
            raise LineTooLong(
                f"line {self.lines_in + 1} is longer than max_line_bytes "
                f"({self.params.max_line_bytes}); raise it, or the input is not line text"
            )

    def _keep(self, line: bytes) -> bool:
        self.lines_in += 1
        content = line.removesuffix(b"\n").removesuffix(b"\r")
        keep = self._selected(content)
        if keep:
            self.lines_out += 1
        return keep

    def _selected(self, content: bytes) -> bool:
        if self._match or self._exclude:
            text = content.decode("utf-8", "replace")
            if self._match and not any(self._search(p, text) for p in self._match):
                return False
            if any(self._search(p, text) for p in self._exclude):
                return False
        return not self._path or self._json_selected(content)

    def _search(self, pattern: regex.Pattern[str], text: str) -> bool:
        try:
            return pattern.search(text, timeout=self.params.pattern_timeout) is not None
        except TimeoutError:
            raise PatternTimeout(
                f"pattern {pattern.pattern!r} ran longer than {self.params.pattern_timeout} s "
                f"on line {self.lines_in}; rewrite it without nested or overlapping repetition "
                "such as (a|aa)+"
            ) from None

    def _json_selected(self, content: bytes) -> bool:
        value: Any
        if json_depth_over(content, self.params.max_depth):
            return self._invalid(f"nests deeper than max_depth ({self.params.max_depth})")
        try:
            value = json.loads(content)
        except ValueError:
            return self._invalid("is not JSON")
        except RecursionError:  # a parser nesting limit below max_depth: the same answer
            return self._invalid(f"nests deeper than the parser allows ({self.params.max_depth})")
        for part in self._path:
            if not isinstance(value, dict) or part not in value:
                return self._invalid(f"has no field {self.params.field!r}")
            value = value[part]
        return _text(value) in self._values

    def _invalid(self, why: str) -> bool:
        self.lines_invalid += 1
        if self.params.on_invalid == "fail":
            raise InvalidLogLine(
                f"line {self.lines_in} {why}; set on_invalid: skip or keep to let such lines pass"
            )
        return self.params.on_invalid == "keep"


async def lines(ctx: StepContext) -> None:
    """Filter the stream line by line; counts go to the step's metrics."""
    line_filter = LineFilter(ctx.params)
    json_mode = ctx.params.field is not None

    def count() -> None:
        ctx.metrics.extra["lines_in"] = line_filter.lines_in
        ctx.metrics.extra["lines_out"] = line_filter.lines_out
        if json_mode:
            ctx.metrics.extra["lines_invalid"] = line_filter.lines_invalid

    count()
    async for chunk in ctx.input:
        kept = await run_cpu(line_filter.feed, chunk)
        count()
        if kept:
            await ctx.write(kept)
    kept = line_filter.finish()
    count()
    if kept:
        await ctx.write(kept)


LINES = StepDefinition(
    name="lines",
    function=lines,
    params_model=LinesParams,
    description="keep the lines that match (regular expressions, or a JSON field's value)",
)
