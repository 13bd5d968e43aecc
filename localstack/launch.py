"""Runs LocalStack like ``python -m localstack.runtime.main``, but binds its gateway to the host
named in ``GATEWAY_LISTEN``.

LocalStack's default gateway server (twisted) ignores the host part of an IPv4
``GATEWAY_LISTEN`` entry and listens on all interfaces (``TCP4ServerEndpoint`` is created
without ``interface``; see the "TODO: interface = host?" in
``localstack/runtime/server/twisted.py``). ``start.sh`` asks for ``127.0.0.1:<port>``, so
without this LocalStack, which accepts any credentials, would be reachable from the network.
Run with LocalStack's venv: ``localstack/.venv/bin/python localstack/launch.py``.
"""

from __future__ import annotations

import runpy
from typing import Any

from twisted.internet import endpoints

_TCP4ServerEndpoint = endpoints.TCP4ServerEndpoint


def _bound_endpoint(
    reactor: Any, port: int, backlog: int = 50, interface: str = ""
) -> endpoints.TCP4ServerEndpoint:
    """A TCP4ServerEndpoint that binds to the GATEWAY_LISTEN host of its port when none is given."""
    if not interface:
        from localstack import config

        hosts = [listen.host for listen in config.GATEWAY_LISTEN if listen.port == port]
        if hosts:
            interface = hosts[0]
    return _TCP4ServerEndpoint(reactor, port, backlog, interface)


endpoints.TCP4ServerEndpoint = _bound_endpoint  # type: ignore[assignment,misc]

if __name__ == "__main__":
    runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)
