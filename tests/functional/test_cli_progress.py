"""Progress bars of ``run`` and ``process``: drawn on a terminal's stderr only, never with -q."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.serving import REPOSITORY, bucketstream_command

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

WORKFLOW = """
workflows:
  pack:
    trigger: {{bucket: {bucket}, prefix: in/}}
    steps: [{{gzip: {{level: 1}}}}]
    output: {{bucket: {bucket}, key: "out/{{name}}.gz"}}
"""


def _run(
    arguments: list[str], *, terminal: bool, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the CLI; stderr is a pseudo-terminal when ``terminal``. Returns (code, out, err)."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPOSITORY),
        "TERM": "xterm-256color",
        "COLUMNS": "140",
        **(env or {}),
    }
    command = [*bucketstream_command(), *arguments]
    if not terminal:
        done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr
    primary, secondary = os.openpty()
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL
    )
    os.close(secondary)
    drawn: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(primary, 65536)
            except OSError:  # EIO once the child has closed the terminal
                return
            if not data:
                return
            drawn.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    assert process.stdout is not None
    out = process.stdout.read().decode()
    code = process.wait(timeout=120)
    reader.join(timeout=10)
    os.close(primary)
    return code, out, b"".join(drawn).decode(errors="replace")


def _files(tmp_path: Path, bucket: str = "unused") -> tuple[Path, Path, Path]:
    config = tmp_path / "workflows.yaml"
    config.write_text(WORKFLOW.format(bucket=bucket))
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(8 * 1024 * 1024))
    return config, source, tmp_path / "out.bin.gz"


def test_process_draws_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    config, source, destination = _files(tmp_path)
    arguments = ["process", "--config", str(config), "--workflow", "pack", str(source)]
    code, out, err = _run([*arguments, str(destination)], terminal=True)
    assert code == 0, err
    assert '"output"' in out, "the JSON summary stays on stdout"
    assert "written" in err and "in.bin" in err, err[-2000:]
    destination.unlink()
    code, out, quiet = _run([*arguments, "--quiet", str(destination)], terminal=True)
    assert code == 0 and quiet.strip() == "", quiet
    destination.unlink()
    code, out, piped = _run([*arguments, str(destination)], terminal=False)
    assert code == 0 and piped == "", piped


def test_run_draws_a_bar_on_a_terminal_only(
    s3: S3Client, bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    config, source, _ = _files(tmp_path, bucket)
    s3.upload_file(str(source), bucket, "in/big.bin")
    arguments = [
        "run",
        "--config",
        str(config),
        "--workflow",
        "pack",
        "--endpoint-url",
        moto_endpoint,
        f"s3://{bucket}/in/big.bin",
    ]
    code, out, err = _run(arguments, terminal=True)
    assert code == 0, err
    assert '"succeeded"' in out
    assert "written" in err and "big.bin" in err, err[-2000:]
    code, out, piped = _run(arguments, terminal=False)
    assert code == 0 and piped == "", piped
    code, out, quiet = _run([*arguments, "-q"], terminal=True)
    assert code == 0 and quiet.strip() == "", quiet
