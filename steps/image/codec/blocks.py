"""Pillow's image memory: blocks of 512 KiB from the heap, none kept by Pillow itself.

Pillow allocates image memory in blocks from its own arena, each the size of the rows it holds
up to a block size. With glibc's mmap threshold fixed at 1 MiB (see
``trigger_service.execution.allocator``), Pillow's default 16 MiB blocks are each a mapping of
their own: freed, unmapped, and the next image's pages are faulted in afresh, one fault per
4 KiB page. Pillow's block cache does not help much: it ``realloc``-s a kept block to the next
image's size, and a block that grows is moved, its old contents copied (a fifth of all page
faults of a 24 MP JPEG's strips and windows, with 512 KiB blocks kept).

:func:`use_heap_blocks` sets a block size under the mmap threshold and turns Pillow's cache
off: blocks come from the heap, which keeps up to the allocator's trim threshold (8 MiB) free
for the next ones, without copying. Measured on that JPEG fitted to 2048 in strips through
``serve`` (12 interleaved executions per variant): page faults per execution ~10 800 with
4 MiB blocks (8 kept) → ~4 900 with 512 KiB blocks (64 kept) → ~2 700 with 512 KiB blocks
from the heap; CPU 0.44 → 0.40 → 0.39 s.

Pillow's own ``PILLOW_BLOCKS_MAX`` / ``PILLOW_BLOCK_SIZE`` environment variables, when set, win:
then nothing is changed here.
"""

from __future__ import annotations

import os

from PIL import _imaging as pillow_core  # Pillow's C core (``Image.core``): the arena settings

#: Largest block Pillow allocates (a larger image takes several; a 2250 × 1500 RGB picture is
#: 27): under glibc's fixed mmap threshold (1 MiB), so that blocks come from the heap. 256 KiB
#: blocks did no better (more of them per image); 960 KiB ones neither.
BLOCK_SIZE = 512 * 1024
#: Freed blocks Pillow keeps for its next images: none, the heap keeps them.
BLOCKS_MAX = 0
_ENVIRONMENT = ("PILLOW_BLOCKS_MAX", "PILLOW_BLOCK_SIZE")

_applied = False


def use_heap_blocks() -> bool:
    """Set Pillow's block size and cache once per process; False when the environment sets them."""
    global _applied
    if _applied:
        return True
    if any(name in os.environ for name in _ENVIRONMENT):
        return False
    pillow_core.set_block_size(BLOCK_SIZE)
    pillow_core.set_blocks_max(BLOCKS_MAX)
    _applied = True
    return True
