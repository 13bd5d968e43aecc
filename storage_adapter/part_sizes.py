"""How large each part of a multipart upload is: S3's limits, the doubling and its cap.

S3 allows 10,000 parts, so a fixed 8 MiB part would cap an output at 78 GiB, and the output's
size is not known while it is produced (gzip shrinks, gunzip grows). The part size therefore
doubles every :data:`PARTS_PER_PART_SIZE` parts (:func:`part_size_of`): outputs up to
``1000 × part_size`` (7.8 GiB with the defaults) keep the memory bound above; beyond that the
parts double at 7.8 GiB, 23 GiB and 55 GiB, and stop growing at :data:`PART_SIZE_CAP` (64 MiB):
10,000 parts then hold 492 GiB. A writer told its ``max_output_bytes`` raises the cap (a
power-of-two multiple of it, up to S3's 5 GiB part) just enough for 10,000 parts to hold that
much (:func:`part_size_cap`), so the memory bound is known before the first byte.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024**2
MAX_PART_SIZE = 5 * 1024**3
MAX_PARTS = 10_000
#: Parts uploaded at one size before the part size doubles (see the module docstring).
PARTS_PER_PART_SIZE = 1000
DEFAULT_PART_SIZE = 8 * 1024**2
#: The largest part the doubling reaches unless ``max_output_bytes`` needs more: it bounds
#: ``(parts_in_flight + 1) × part`` (5 × 64 MiB) whatever a step makes of its input.
PART_SIZE_CAP = 64 * 1024**2


def part_size_of(
    number: int,
    part_size: int,
    parts_per_size: int = PARTS_PER_PART_SIZE,
    cap: int = PART_SIZE_CAP,
) -> int:
    """The size of part ``number`` (1-based): ``part_size`` doubled every ``parts_per_size``,
    up to ``cap`` (never below ``part_size`` itself, never above S3's 5 GiB)."""
    doublings = (number - 1) // parts_per_size
    return min(part_size << min(doublings, 32), max(cap, part_size), MAX_PART_SIZE)


def parts_capacity(part_size: int, parts_per_size: int, cap: int) -> int:
    """Bytes that :data:`MAX_PARTS` parts of :func:`part_size_of` hold."""
    total, number = 0, 1
    while number <= MAX_PARTS:  # one sum per size step, not per part
        size = part_size_of(number, part_size, parts_per_size, cap)
        count = min(parts_per_size - (number - 1) % parts_per_size, MAX_PARTS - number + 1)
        total, number = total + size * count, number + count
    return total


def part_size_cap(
    max_output_bytes: int | None, part_size: int, parts_per_size: int = PARTS_PER_PART_SIZE
) -> int:
    """The smallest cap, from :data:`PART_SIZE_CAP` doubling, at which 10,000 parts hold
    ``max_output_bytes`` (S3's 5 GiB part at most); :data:`PART_SIZE_CAP` when None."""
    cap = PART_SIZE_CAP
    if max_output_bytes is None:
        return cap
    while cap < MAX_PART_SIZE and parts_capacity(part_size, parts_per_size, cap) < max_output_bytes:
        cap *= 2
    return min(cap, MAX_PART_SIZE)


def clamp_part_size(part_size: int) -> int:
    """``part_size`` within S3's limits (5 MiB to 5 GiB), with a warning when changed."""
    clamped = min(max(part_size, MIN_PART_SIZE), MAX_PART_SIZE)
    if clamped != part_size:
        logger.warning("part size %d is outside S3's limits; using %d", part_size, clamped)
    return clamped
