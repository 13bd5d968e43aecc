"""Pillow keeps a bounded number of freed image blocks, unless its environment says otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from steps.image.codec.blocks import BLOCK_SIZE, BLOCKS_MAX
from trigger_service.execution.allocator import DEFAULT_MMAP_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "from PIL import Image\n"
    "from steps.image.codec.blocks import keep_freed_blocks as keep\n"
    "print(keep(), keep(), Image.core.get_blocks_max(), Image.core.get_block_size())\n"
    "Image.new('RGB', (3000, 800)).close()\n"
    "stats = Image.core.get_stats()\n"
    "print(stats['blocks_cached'], stats['blocks_cached'] <= Image.core.get_blocks_max())\n"
)


def _probe(**env: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        check=True,
    )
    return completed.stdout.split()


def test_freed_blocks_are_kept_for_reuse_within_the_bound() -> None:
    applied, again, blocks_max, block_size, cached, bounded = _probe()
    assert (applied, again) == ("True", "True")
    assert (int(blocks_max), int(block_size)) == (BLOCKS_MAX, BLOCK_SIZE)
    assert int(cached) > 0 and bounded == "True"


def test_blocks_come_from_the_heap_not_from_mappings_of_their_own() -> None:
    # Pillow asks for a block's rows plus its alignment: all of it under the mmap threshold.
    assert BLOCK_SIZE + 64 < DEFAULT_MMAP_THRESHOLD


def test_pillow_environment_settings_win() -> None:
    applied, _, blocks_max, _, cached, _ = _probe(PILLOW_BLOCKS_MAX="0")
    assert (applied, blocks_max, cached) == ("False", "0", "0")
