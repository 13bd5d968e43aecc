"""Pillow takes image memory in heap-sized blocks and keeps none, unless its environment says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from steps.image.codec.blocks import BLOCK_SIZE, BLOCKS_MAX
from trigger_service.execution.allocator import DEFAULT_MMAP_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "from PIL import Image\n"
    "from steps.image.codec.blocks import use_heap_blocks as use\n"
    "print(use(), use(), Image.core.get_blocks_max(), Image.core.get_block_size())\n"
    "before = Image.core.get_stats()['allocated_blocks']\n"
    "Image.new('RGB', (3000, 800)).close()\n"
    "stats = Image.core.get_stats()\n"
    "print(stats['allocated_blocks'] - before, stats['blocks_cached'])\n"
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


def test_images_take_blocks_of_the_set_size_and_pillow_keeps_none() -> None:
    applied, again, blocks_max, block_size, allocated, cached = _probe()
    assert (applied, again) == ("True", "True")
    assert (int(blocks_max), int(block_size)) == (BLOCKS_MAX, BLOCK_SIZE)
    rows_per_block = BLOCK_SIZE // (3000 * 4)
    assert int(allocated) == -(-800 // rows_per_block)  # 9.6 MB in blocks of at most 512 KiB
    assert cached == "0"


def test_blocks_come_from_the_heap_not_from_mappings_of_their_own() -> None:
    # Pillow never asks for more than the block size (rows and alignment included); malloc
    # adds its chunk header on top, which must stay under the mmap threshold too.
    assert BLOCK_SIZE + 64 < DEFAULT_MMAP_THRESHOLD


def test_pillow_environment_settings_win() -> None:
    applied, _, blocks_max, block_size, _, _ = _probe(PILLOW_BLOCK_SIZE="1m")
    assert (applied, blocks_max, block_size) == ("False", "0", str(1024**2))
