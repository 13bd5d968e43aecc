"""Tiers follow from a test's folder and from what its code reaches (``tests.support.tiers``)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]


CONFTEST = """
from tests.support.tiers import TIERS, apply_tiers, unit_guard

def pytest_collection_modifyitems(config, items):
    apply_tiers(items)
    for item in items:
        tiers = [tier for tier in TIERS if item.get_closest_marker(tier)]
        print("TIER", item.nodeid, *tiers)
"""


def _suite(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(
        """
        [pytest]
        markers =
            unit: u
            functional: f
            service: s
            integration: i
        """
    )
    unit = pytester.mkpydir("unit")
    (unit / "test_mixed.py").write_text(
        textwrap.dedent(
            """
            import socket
            import subprocess
            import sys

            def test_in_process():
                assert 1 + 1 == 2

            def test_spawns():
                subprocess.run([sys.executable, "-c", "pass"], check=True)

            def test_hidden_connection():
                connect = getattr(socket.socket, "connect")
                with socket.socket() as s:
                    connect(s, ("127.0.0.1", 9))
            """
        )
    )
    (unit / "test_a_serve.py").write_text(
        textwrap.dedent(
            """
            import pytest
            from tests.support.serving import ServeProcess

            @pytest.fixture
            def service():
                return ServeProcess

            def test_through_a_fixture(service):
                assert service is not None
            """
        )
    )
    functional = pytester.mkpydir("functional")
    (functional / "test_over_http.py").write_text("def test_moto():\n    assert True\n")


def test_each_test_gets_the_tier_of_its_folder_and_of_what_it_starts_spawners_last(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-s")
    tiers = [line.split()[1:] for line in result.outlines if line.startswith("TIER ")]
    # Whole modules move: the spawning ones after the in-process ones, serve's last.
    assert tiers == [
        ["functional/test_over_http.py::test_moto", "functional"],
        ["unit/test_mixed.py::test_in_process", "unit"],
        ["unit/test_mixed.py::test_spawns", "functional"],
        ["unit/test_mixed.py::test_hidden_connection", "unit"],
        ["unit/test_a_serve.py::test_through_a_fixture", "service"],
    ]


def test_a_unit_test_that_opens_a_connection_fails_naming_the_rule(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester)
    result = pytester.runpytest_inprocess("-q", "-m", "unit", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*a unit test runs in process: socket.connect()*"])
