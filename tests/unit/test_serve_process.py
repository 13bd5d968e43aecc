"""``bucketstream serve`` builds its service as a long-running process of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from trigger_service.cli import main
from trigger_service.cli import serve as serve_module
from trigger_service.cli.drain import DrainingServer
from trigger_service.service import ServiceConfig

WORKFLOWS = """
workflows:
  archive:
    trigger: {bucket: uploads, prefix: incoming/}
    steps: [gzip]
    output: {bucket: uploads, key: "archived/{key}.gz"}
"""


# serve tunes the allocator at start-up: ctypes.util.find_library runs ldconfig
@pytest.mark.functional
def test_serve_freezes_its_start_up_heap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[ServiceConfig] = []

    def create_app(config: ServiceConfig) -> str:
        built.append(config)
        return "app"

    ran: list[Any] = []

    def run(server: Any, *args: Any, **options: Any) -> None:
        ran.append(server.config.app)

    monkeypatch.setattr(serve_module, "create_app", create_app)
    monkeypatch.setattr(DrainingServer, "run", run)
    config = tmp_path / "workflows.yaml"
    config.write_text(WORKFLOWS)
    arguments = ["serve", "--config", str(config), "--endpoint-url", "http://127.0.0.1:9"]
    arguments += ["--no-embedded", "--store", str(tmp_path / "store.db")]
    result = CliRunner().invoke(main, arguments)

    assert result.exit_code == 0, result.output
    assert ran == ["app"]  # served by the draining server
    (service,) = built
    assert service.drain_seconds == 25
    assert service.freeze_heap is True
    assert ServiceConfig(workflows=service.workflows).freeze_heap is False
